/*
 * violation_classify_test.cpp
 *    Unit tests for the classification and log lines of violations
 *    (src/violation_classify.cpp).  The hooks that feed them are tested by the
 *    cluster tests under test/t/.
 */
#include "violation_classify.h"

#include <gtest/gtest.h>

#include <cstring>

namespace {

using fkg::Operation;
using fkg::Side;
using fkg::ViolationEvent;

ViolationEvent
child_violation()
{
	ViolationEvent e{};
	e.side = Side::Child;
	e.operation = Operation::Insert;
	e.pid = 42;
	std::strcpy(e.constraint_name, "orders_customer_id_fkey");
	std::strcpy(e.key, "(customer_id)=(9842)");
	std::strcpy(e.query, "INSERT INTO orders VALUES (1, 9842)");
	std::strcpy(e.database_name, "shop");
	std::strcpy(e.user_name, "app");
	std::strcpy(e.application_name, "importer \"v2\"");
	e.info.resolved = true;
	std::strcpy(e.info.declared_name, "orders_customer_id_fkey");
	std::strcpy(e.info.child_table, "public.orders");
	std::strcpy(e.info.parent_table, "public.customers");
	std::strcpy(e.info.fk_columns, "customer_id");
	std::strcpy(e.info.parent_columns, "id");
	return e;
}

TEST(IsRiError, NeedsTheForeignKeySqlstateAndPostgresRiCode)
{
	EXPECT_TRUE(fkg::is_ri_error(true, "ri_triggers.c"));
	EXPECT_TRUE(fkg::is_ri_error(true, "../src/backend/utils/adt/ri_triggers.c"));
	EXPECT_FALSE(fkg::is_ri_error(true, "pl_exec.c")) << "RAISE ... USING ERRCODE is not a violation";
	EXPECT_FALSE(fkg::is_ri_error(false, "ri_triggers.c"));
	EXPECT_FALSE(fkg::is_ri_error(true, nullptr));
}

TEST(ClassifySide, UsesTheUntranslatedMessageFormat)
{
	Side side;
	ASSERT_TRUE(fkg::classify_side("insert or update on table \"%s\" violates foreign key constraint \"%s\"", false,
	                               &side));
	EXPECT_EQ(side, Side::Child);
	ASSERT_TRUE(fkg::classify_side("insert or update on table \"%s\" violates foreign key constraint \"%s\"", true,
	                               &side));
	EXPECT_EQ(side, Side::MatchFull);
	ASSERT_TRUE(fkg::classify_side(
	    "update or delete on table \"%s\" violates foreign key constraint \"%s\" on table \"%s\"", false, &side));
	EXPECT_EQ(side, Side::Parent);
	ASSERT_TRUE(fkg::classify_side("removing partition \"%s\" violates foreign key constraint \"%s\"", false, &side));
	EXPECT_EQ(side, Side::Partition);
	EXPECT_FALSE(fkg::classify_side("insert or update on table \"orders\" violates foreign key constraint \"c\"",
	                                false, &side))
	    << "a formatted (or translated) message is not a format";
	EXPECT_FALSE(fkg::classify_side(nullptr, false, &side));
}

TEST(KeyFromDetail, KeepsColumnsAndValuesWithNestedParentheses)
{
	char key[64];
	fkg::key_from_detail(key, sizeof(key), "Key (customer_id)=(9842) is not present in table \"customers\".");
	EXPECT_STREQ(key, "(customer_id)=(9842)");
	fkg::key_from_detail(key, sizeof(key), "Key (a, b)=((1,2), f(x)) is still referenced from table \"t\".");
	EXPECT_STREQ(key, "(a, b)=((1,2), f(x))");
	fkg::key_from_detail(key, sizeof(key), "MATCH FULL does not allow mixing of null and nonnull key values.");
	EXPECT_STREQ(key, "");
	fkg::key_from_detail(key, sizeof(key), nullptr);
	EXPECT_STREQ(key, "");
	fkg::key_from_detail(key, 8, "Key (customer_id)=(9842) is not present");
	EXPECT_STREQ(key, "(custom") << "truncated to the buffer";
}

TEST(QuotedName, FindsTheFirstOrLastQuotedName)
{
	char name[64];
	fkg::quoted_name(name, sizeof(name), "Key (x)=(1) is not present in table \"Customers List\".", true);
	EXPECT_STREQ(name, "Customers List");
	fkg::quoted_name(name, sizeof(name), "update or delete on table \"p\" violates foreign key constraint \"c\"", false);
	EXPECT_STREQ(name, "p");
	fkg::quoted_name(name, sizeof(name), "no quotes", true);
	EXPECT_STREQ(name, "");
}

TEST(FixHint, FitsTheCase)
{
	ViolationEvent e = child_violation();
	EXPECT_NE(fkg::fix_hint(e).find("Insert the referenced row in public.customers first"), std::string::npos);
	e.deferred = true;
	EXPECT_NE(fkg::fix_hint(e).find("before it commits"), std::string::npos);
	e.side = Side::Parent;
	EXPECT_NE(fkg::fix_hint(e).find("re-point the referencing rows in public.orders"), std::string::npos);
	e.side = Side::MatchFull;
	EXPECT_NE(fkg::fix_hint(e).find("MATCH FULL"), std::string::npos);
	e = child_violation();
	e.operation = Operation::AlterTable;
	EXPECT_NE(fkg::fix_hint(e).find("fk_orphans('public.orders')"), std::string::npos);
}

TEST(LogLine, TextNamesEverythingOnOneLine)
{
	const std::string line = fkg::log_line_text(child_violation(), 3);
	EXPECT_EQ(line.find('\n'), std::string::npos);
	EXPECT_NE(line.find("constraint \"orders_customer_id_fkey\" public.orders(customer_id) -> public.customers(id)"),
	          std::string::npos)
	    << line;
	EXPECT_NE(line.find("side=child operation=INSERT at_commit=false"), std::string::npos) << line;
	EXPECT_NE(line.find("key=(customer_id)=(9842)"), std::string::npos) << line;
	EXPECT_NE(line.find("violations_last_minute=3"), std::string::npos) << line;
	EXPECT_NE(line.find("application_name=\"importer \\\"v2\\\"\""), std::string::npos) << line;
}

TEST(LogLine, JsonHasStableKeysAndEscapes)
{
	ViolationEvent e = child_violation();
	std::strcpy(e.query, "INSERT INTO \"t\"\nVALUES ('\\x01')");
	std::strcpy(e.info.fk_columns, "a, \"B c\"");
	e.key[0] = '\0';
	const std::string line = fkg::log_line_json(e, 1);
	EXPECT_EQ(line.front(), '{');
	EXPECT_EQ(line.back(), '}');
	EXPECT_EQ(line.find('\n'), std::string::npos) << "one object per line";
	EXPECT_NE(line.find("\"query\":\"INSERT INTO \\\"t\\\"\\nVALUES ('\\\\x01')\""), std::string::npos) << line;
	EXPECT_NE(line.find("\"fk_columns\":[\"a\",\"\\\"B c\\\"\"]"), std::string::npos) << line;
	EXPECT_NE(line.find("\"key\":null"), std::string::npos) << "PostgreSQL hid the key";
	for (const char *key : {"\"constraint\":", "\"child_table\":", "\"parent_table\":", "\"parent_columns\":",
	                        "\"side\":", "\"operation\":", "\"at_commit\":", "\"deferrable\":",
	                        "\"initially_deferred\":", "\"handled\":", "\"database\":", "\"user\":",
	                        "\"application_name\":", "\"pid\":42", "\"violations_last_minute\":1", "\"hint\":"})
		EXPECT_NE(line.find(key), std::string::npos) << key;
}

TEST(JsonString, EscapesControlCharacters)
{
	EXPECT_EQ(fkg::json_string("a\x01z\t"), "\"a\\u0001z\\t\"");
	EXPECT_EQ(fkg::json_string("é"), "\"é\"");
}

TEST(CopyTruncated, CutsOnACharacterBoundary)
{
	char buf[4];
	fkg::copy_truncated(buf, sizeof(buf), "aéé");
	EXPECT_STREQ(buf, "aé");
	fkg::copy_truncated(buf, sizeof(buf), "abé");
	EXPECT_STREQ(buf, "ab");
	fkg::copy_truncated(buf, sizeof(buf), nullptr);
	EXPECT_STREQ(buf, "");
}

TEST(RenderLogLine, FitsTheBufferAndNeverThrows)
{
	char small[16];
	EXPECT_TRUE(fkg::render_log_line(child_violation(), true, 1, small, sizeof(small)));
	EXPECT_EQ(std::strlen(small), sizeof(small) - 1);
}

} // namespace
