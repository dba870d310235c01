/*
 * violation_classify_test.cpp
 *    Unit tests for the classification and log lines of violations
 *    (src/capture/violation_classify.cpp).  The hooks that feed them are tested by the
 *    cluster tests under test/t/.
 */
#include "capture/violation_classify.h"

#include "log_line_parsers.h"

#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

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
	/* PostgreSQL 18's message for the referenced side of a RESTRICT key (SQLSTATE 23001). */
	ASSERT_TRUE(fkg::classify_side("update or delete on table \"%s\" violates RESTRICT setting of foreign key "
	                               "constraint \"%s\" on table \"%s\"",
	                               false, &side));
	EXPECT_EQ(side, Side::Parent);
	ASSERT_TRUE(fkg::classify_side("removing partition \"%s\" violates foreign key constraint \"%s\"", false, &side));
	EXPECT_EQ(side, Side::Partition);
	EXPECT_FALSE(fkg::classify_side("insert or update on table \"orders\" violates foreign key constraint \"c\"", false,
	                                &side))
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
	fkg::key_from_detail(key, sizeof(key), "Key (a)=(1) is referenced from table \"t\".");
	EXPECT_STREQ(key, "(a)=(1)");
	fkg::key_from_detail(key, sizeof(key), "Key (code)=(x\") database=evil (pid=1) is not present in table \"codes\".");
	EXPECT_STREQ(key, "(code)=(x\") database=evil (pid=1)") << "unbalanced parentheses and quotes in the value";
	fkg::key_from_detail(key, sizeof(key), "Key is not present in table \"we(i)rd\".");
	EXPECT_STREQ(key, "") << "hidden key, parentheses in the table name";
	fkg::key_from_detail(key, sizeof(key), "MATCH FULL does not allow mixing of null and nonnull key values.");
	EXPECT_STREQ(key, "");
	fkg::key_from_detail(key, sizeof(key), nullptr);
	EXPECT_STREQ(key, "");
	fkg::key_from_detail(key, 8, "Key (customer_id)=(9842) is not present");
	EXPECT_STREQ(key, "(custom") << "truncated to the buffer";
	fkg::key_from_detail(key, 8, "Key (k)=(\xc3\xa9\xc3\xa9) is not present");
	EXPECT_STREQ(key, "(k)=(\xc3\xa9") << "on a character boundary";
	const char *start;
	size_t length;
	ASSERT_TRUE(fkg::find_key("Key (k)=(a) is x", &start, &length));
	EXPECT_EQ(std::string(start, length), "(k)=(a)");
	EXPECT_FALSE(fkg::find_key("Key is not present in table \"p\".", &start, &length));
}

TEST(QuotedName, FindsTheFirstOrLastQuotedName)
{
	char name[64];
	fkg::quoted_name(name, sizeof(name), "Key (x)=(1) is not present in table \"Customers List\".", true);
	EXPECT_STREQ(name, "Customers List");
	fkg::quoted_name(name, sizeof(name), "update or delete on table \"p\" violates foreign key constraint \"c\"",
	                 false);
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
	const std::string line = fkg::log_line_text(child_violation(), 3, true);
	EXPECT_EQ(line,
	          "fk_guard: foreign key violation: constraint=\"orders_customer_id_fkey\" child_table=\"public.orders\" "
	          "fk_columns=\"customer_id\" parent_table=\"public.customers\" parent_columns=\"id\" side=child "
	          "operation=INSERT at_commit=false deferrable=false initially_deferred=false handled=false "
	          "key=\"(customer_id)=(9842)\" database=\"shop\" user=\"app\" application_name=\"importer \\\"v2\\\"\" "
	          "pid=42 violations_last_minute=3 query=\"INSERT INTO orders VALUES (1, 9842)\" hint=\"Insert the "
	          "referenced row in public.customers first, or make the constraint DEFERRABLE and load parent and child "
	          "rows in one transaction.\"");
}

TEST(LogLine, TextQuotesAnOperationWithASpaceAndLeavesOutAHiddenKey)
{
	ViolationEvent e = child_violation();
	e.operation = Operation::SetConstraints;
	e.key[0] = '\0';
	const std::string line = fkg::log_line_text(e, 1, true);
	EXPECT_NE(line.find(" operation=\"SET CONSTRAINTS\" "), std::string::npos) << line;
	EXPECT_EQ(line.find(" key="), std::string::npos) << line;
}

TEST(LogLine, PartitionsAreNamedOnlyWhenSet)
{
	ViolationEvent e = child_violation();
	for (bool json : {false, true}) {
		const std::string plain = json ? fkg::log_line_json(e, 1, true) : fkg::log_line_text(e, 1, true);
		EXPECT_EQ(plain.find("partition"), std::string::npos) << plain;
	}
	std::strcpy(e.info.child_partition, "public.\"orders 2026\"");
	std::strcpy(e.info.parent_partition, "public.customers_eu");
	const std::string text = fkg::log_line_text(e, 1, true);
	EXPECT_NE(text.find(" parent_columns=\"id\" child_partition=\"public.\\\"orders 2026\\\"\" "
	                    "parent_partition=\"public.customers_eu\" side=child "),
	          std::string::npos)
		<< text;
	const std::string json = fkg::log_line_json(e, 1, true);
	EXPECT_NE(json.find(",\"child_partition\":\"public.\\\"orders 2026\\\"\",\"parent_partition\":"
	                    "\"public.customers_eu\",\"side\":"),
	          std::string::npos)
		<< json;
}

TEST(LogLine, JsonHasStableKeysAndEscapes)
{
	ViolationEvent e = child_violation();
	std::strcpy(e.query, "INSERT INTO \"t\"\nVALUES ('\\x01')");
	std::strcpy(e.info.fk_columns, "a, \"B c\"");
	e.key[0] = '\0';
	const std::string line = fkg::log_line_json(e, 1, true);
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
	EXPECT_EQ(fkg::json_string("\x7f\x1b[2J"), "\"\\u007f\\u001b[2J\"");
	EXPECT_EQ(fkg::json_string("é"), "\"é\"");
	EXPECT_EQ(fkg::json_string(nullptr), "\"\"");
}

TEST(JsonString, Utf8PassesThroughAndIllFormedBytesAreEscaped)
{
	EXPECT_EQ(fkg::json_string("\xe6\x97\xa5\xf0\x9f\x98\x80", true), "\"\xe6\x97\xa5\xf0\x9f\x98\x80\"");
	EXPECT_EQ(fkg::json_string("a\xff\xc3", true), "\"a\\u00ff\\u00c3\"") << "stray and cut-short bytes";
	EXPECT_EQ(fkg::json_string("\xc0\xaf", true), "\"\\u00c0\\u00af\"") << "overlong";
	EXPECT_EQ(fkg::json_string("\xed\xa0\x80", true), "\"\\u00ed\\u00a0\\u0080\"") << "surrogate";
	EXPECT_EQ(fkg::json_string("\xf4\x90\x80\x80", true), "\"\\u00f4\\u0090\\u0080\\u0080\"") << "beyond U+10FFFF";
	EXPECT_EQ(fkg::json_string("\xc2\x85|\xe2\x80\xa8", true), "\"\\u0085|\\u2028\"") << "C1 and line separator";
}

TEST(JsonString, EveryHighByteIsEscapedOutsideUtf8)
{
	EXPECT_EQ(fkg::json_string("\xc3\xa9\xff", false), "\"\\u00c3\\u00a9\\u00ff\"");
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

/* ---- hostile values: the lines cannot be forged ---- */

using logparse::Decode;

/* Fills a fixed-size field of the event with value (which must fit). */
template <size_t N>
void
set(char (&field)[N], const std::string &value)
{
	ASSERT_LT(value.size(), N);
	std::memcpy(field, value.c_str(), value.size() + 1);
}

/* An event whose every data- or name-derived field tries to forge something. */
ViolationEvent
hostile_violation()
{
	ViolationEvent e = child_violation();
	set(e.key, "(code)=(x\") database=evil user=postgres pid=1\nLOG:  fk_guard: foreign key violation: "
	           "constraint=\"fake\" side=parent)");
	set(e.query, "INSERT INTO t VALUES ('a\\\"b', E'\\r\\n')\r\nLOG:  fake line\x01\x1b[31m\x7f");
	set(e.database_name, "shop\" user=\"root");
	set(e.user_name, "app\nLOG:  x");
	set(e.application_name, "importer\" pid=1 key=\"(a)=(1)\t\\");
	set(e.info.declared_name, "c\" side=parent operation=DELETE x=\"");
	set(e.info.child_table, "public.\"orders\"\"x\" key=(1)");
	set(e.info.parent_table, "public.\"\xe6\x97\xa5\xe6\x9c\xac\"");
	set(e.info.fk_columns, "\"a=b c\", \"d\\\"\"");
	set(e.info.parent_columns, "id");
	return e;
}

/* The values the text line must carry, in order, for event e. */
logparse::Fields
expected_text_fields(const ViolationEvent &e, int64_t recent)
{
	logparse::Fields f = {
		{"constraint", e.info.declared_name},
		{"child_table", e.info.child_table},
		{"fk_columns", e.info.fk_columns},
		{"parent_table", e.info.parent_table},
		{"parent_columns", e.info.parent_columns},
		{"side", fkg::side_name(e.side)},
		{"operation", fkg::operation_name(e.operation)},
		{"at_commit", e.deferred ? "true" : "false"},
		{"deferrable", e.info.deferrable ? "true" : "false"},
		{"initially_deferred", e.info.initially_deferred ? "true" : "false"},
		{"handled", e.handled ? "true" : "false"},
	};
	if (*e.key)
		f.emplace_back("key", e.key);
	f.insert(f.end(), {{"database", e.database_name},
	                   {"user", e.user_name},
	                   {"application_name", e.application_name},
	                   {"pid", std::to_string(e.pid)},
	                   {"violations_last_minute", std::to_string(recent)},
	                   {"query", e.query},
	                   {"hint", fkg::fix_hint(e)}});
	return f;
}

void
expect_text_round_trip(const ViolationEvent &e, bool utf8)
{
	const std::string line = fkg::log_line_text(e, 7, utf8);
	EXPECT_EQ(line.find_first_of("\n\r"), std::string::npos) << "one line";
	logparse::Fields fields;
	std::vector<bool> quoted;
	ASSERT_TRUE(logparse::parse_text_line(line, &fields, &quoted, utf8 ? Decode::Utf8 : Decode::Bytes)) << line;
	EXPECT_EQ(fields, expected_text_fields(e, 7)) << line;
	for (size_t k = 0; k < fields.size(); k++) {
		const std::string &name = fields[k].first;
		bool bare = name == "side" || name == "at_commit" || name == "deferrable" || name == "initially_deferred" ||
		            name == "handled" || name == "pid" || name == "violations_last_minute" ||
		            (name == "operation" && fields[k].second.find(' ') == std::string::npos);
		EXPECT_EQ(quoted[k], !bare) << name;
	}
}

/* The fk_columns/parent_columns list "a, b" as the JSON array should hold it. */
std::vector<std::string>
columns(const char *list)
{
	std::vector<std::string> out;
	std::string s = list;
	for (size_t start = 0; !s.empty();) {
		size_t end = s.find(", ", start);
		out.push_back(s.substr(start, end == std::string::npos ? std::string::npos : end - start));
		if (end == std::string::npos)
			break;
		start = end + 2;
	}
	return out;
}

void
expect_json_round_trip(const ViolationEvent &e, bool utf8)
{
	const std::string line = fkg::log_line_json(e, 7, utf8);
	EXPECT_EQ(line.find_first_of("\n\r"), std::string::npos) << "one line";
	logparse::Json v;
	ASSERT_TRUE(logparse::parse_json(line, &v, utf8 ? Decode::Utf8 : Decode::Bytes)) << line;
	ASSERT_EQ(v.kind, logparse::Json::Object);
	std::vector<std::string> names;
	for (const auto &f : v.fields)
		names.push_back(f.first);
	EXPECT_EQ(names, (std::vector<std::string>{"fk_guard",
	                                           "constraint",
	                                           "child_table",
	                                           "parent_table",
	                                           "fk_columns",
	                                           "parent_columns",
	                                           "side",
	                                           "operation",
	                                           "at_commit",
	                                           "deferrable",
	                                           "initially_deferred",
	                                           "handled",
	                                           "key",
	                                           "query",
	                                           "database",
	                                           "user",
	                                           "application_name",
	                                           "pid",
	                                           "violations_last_minute",
	                                           "hint"}));
	auto text = [&](const char *name) { return v.get(name) ? v.get(name)->text : std::string("<missing>"); };
	EXPECT_EQ(text("constraint"), e.info.declared_name);
	EXPECT_EQ(text("child_table"), e.info.child_table);
	EXPECT_EQ(text("parent_table"), e.info.parent_table);
	EXPECT_EQ(text("key"), e.key);
	EXPECT_EQ(text("query"), e.query);
	EXPECT_EQ(text("database"), e.database_name);
	EXPECT_EQ(text("user"), e.user_name);
	EXPECT_EQ(text("application_name"), e.application_name);
	EXPECT_EQ(text("pid"), std::to_string(e.pid));
	EXPECT_EQ(text("hint"), fkg::fix_hint(e));
	std::vector<std::string> fk;
	for (const auto &item : v.get("fk_columns")->items)
		fk.push_back(item.text);
	EXPECT_EQ(fk, columns(e.info.fk_columns));
}

TEST(HostileValues, TextLineKeepsEveryValueInsideItsField)
{
	expect_text_round_trip(hostile_violation(), true);
	expect_text_round_trip(hostile_violation(), false);
	ViolationEvent e = hostile_violation();
	e.operation = Operation::AlterTable;
	expect_text_round_trip(e, true);
}

TEST(HostileValues, JsonLineParsesAndRoundTrips)
{
	expect_json_round_trip(hostile_violation(), true);
	expect_json_round_trip(hostile_violation(), false);
}

TEST(HostileValues, ForgedFieldTextStaysInTheKey)
{
	const std::string line = fkg::log_line_text(hostile_violation(), 1, true);
	logparse::Fields fields;
	std::vector<bool> quoted;
	ASSERT_TRUE(logparse::parse_text_line(line, &fields, &quoted, Decode::Utf8));
	int databases = 0, pids = 0;
	for (const auto &f : fields) {
		databases += f.first == "database";
		pids += f.first == "pid";
	}
	EXPECT_EQ(databases, 1) << line;
	EXPECT_EQ(pids, 1) << line;
	EXPECT_EQ(line.find("LOG:  fk_guard"), line.find("\\nLOG:  fk_guard") + 2) << "the fake line is escaped";
}

/* The longest values an event can hold, all made of the characters that
 * escape to the longest text: the line is whole, far beyond the old 32 KB. */
TEST(HostileValues, LongestFieldsGiveAWholeLine)
{
	ViolationEvent e = hostile_violation();
	set(e.query, std::string(fkg::kMaxQueryLength, '\x01'));
	set(e.key, std::string(fkg::kKeyLength - 1, '\x1f'));
	set(e.info.fk_columns, std::string(fkg::kColumnsLength - 1, '"'));
	set(e.info.parent_columns, std::string(fkg::kColumnsLength - 1, '\\'));
	set(e.info.child_table, std::string(fkg::kQualifiedLength - 1, '\x02'));
	set(e.application_name, std::string(fkg::kNameLength - 1, '\x7f'));
	set(e.info.parent_table, std::string(fkg::kQualifiedLength - 1, '\x03'));
	set(e.info.declared_name, std::string(fkg::kNameLength - 1, '\x04'));
	set(e.database_name, std::string(fkg::kNameLength - 1, '\x05'));
	set(e.user_name, std::string(fkg::kNameLength - 1, '\x06'));
	for (bool utf8 : {true, false}) {
		EXPECT_GT(fkg::log_line_json(e, 1, utf8).size(), 32u * 1024);
		expect_json_round_trip(e, utf8);
		expect_text_round_trip(e, utf8);
	}
}

TEST(HostileValues, MultibyteAndInvalidBytes)
{
	ViolationEvent e = hostile_violation();
	set(e.key, "(name)=(\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e \xf0\x9f\x98\x80 \xc2\x85)");
	set(e.query, "SELECT '\xc3\xa9\xe2\x80\xa8'");
	expect_text_round_trip(e, true);
	expect_json_round_trip(e, true);
	expect_text_round_trip(e, false);
	expect_json_round_trip(e, false);
	EXPECT_NE(fkg::log_line_json(e, 1, true).find("\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e"), std::string::npos)
		<< "valid UTF-8 passes through in a UTF8 database";
	const std::string ascii = fkg::log_line_json(e, 1, false);
	for (unsigned char c : ascii)
		ASSERT_LT(c, 0x80) << "pure ASCII outside UTF8 databases";

	/* Ill-formed UTF-8 in a UTF8 database (cannot happen, but must not
	 * produce invalid JSON): each bad byte reads back as U+00XX. */
	set(e.key, "(k)=(a\xff\xe6\x97)");
	logparse::Json v;
	ASSERT_TRUE(logparse::parse_json(fkg::log_line_json(e, 1, true), &v, Decode::Utf8));
	EXPECT_EQ(v.get("key")->text, "(k)=(a\xc3\xbf\xc3\xa6\xc2\x97)");
	logparse::Fields fields;
	std::vector<bool> quoted;
	ASSERT_TRUE(logparse::parse_text_line(fkg::log_line_text(e, 1, true), &fields, &quoted, Decode::Utf8));
}

/* The parsers themselves can fail (so that the tests above can). */
TEST(LogLineParsers, RejectForgeriesAndInvalidJson)
{
	logparse::Fields fields;
	std::vector<bool> quoted;
	logparse::Json v;
	EXPECT_FALSE(logparse::parse_text_line("fk_guard: foreign key violation: key=(a)=(1)", &fields, &quoted,
	                                       Decode::Utf8));
	EXPECT_FALSE(logparse::parse_text_line("fk_guard: foreign key violation: key=\"a\nb\"", &fields, &quoted,
	                                       Decode::Utf8));
	EXPECT_FALSE(logparse::parse_json("{\"a\":\"x\ny\"}", &v, Decode::Utf8));
	EXPECT_FALSE(logparse::parse_json("{\"a\":\"\xff\"}", &v, Decode::Utf8));
	EXPECT_FALSE(logparse::parse_json("{\"a\":\"\xc3\xa9\"}", &v, Decode::Bytes));
	EXPECT_FALSE(logparse::parse_json("{\"a\":\"abc", &v, Decode::Utf8)) << "cut";
	EXPECT_TRUE(logparse::parse_json("{\"a\":[\"\\u00e9\",null,1]}", &v, Decode::Utf8));
	EXPECT_EQ(v.get("a")->items[0].text, "\xc3\xa9");
}

} // namespace

TEST(OperationOf, TheOnlyOneOrTheOneThatCanRaiseOnThatSide)
{
	using fkg::operation_bit;
	using fkg::operation_of;
	EXPECT_EQ(operation_of(operation_bit(Operation::Update), Side::Parent), Operation::Update);
	EXPECT_EQ(operation_of(operation_bit(Operation::Commit), Side::Child), Operation::Commit);
	/* WITH d AS (DELETE FROM parent) INSERT INTO child ... */
	const unsigned both = operation_bit(Operation::Delete) | operation_bit(Operation::Insert);
	EXPECT_EQ(operation_of(both, Side::Parent), Operation::Delete);
	EXPECT_EQ(operation_of(both, Side::Child), Operation::Insert);
	EXPECT_EQ(operation_of(both, Side::MatchFull), Operation::Insert);
	EXPECT_EQ(operation_of(0, Side::Child), Operation::Other);
	/* Every operation has a bit of its own. */
	unsigned seen = 0;
	for (Operation o :
	     {Operation::Insert, Operation::Update, Operation::Delete, Operation::Merge, Operation::Copy, Operation::Commit,
	      Operation::Prepare, Operation::SetConstraints, Operation::AlterTable, Operation::Other}) {
		EXPECT_EQ(seen & operation_bit(o), 0u);
		seen |= operation_bit(o);
	}
}
