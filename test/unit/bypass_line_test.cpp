/*
 * bypass_line_test.cpp
 *    The bypass log lines: the sentence and its fields, quoting of names that
 *    try to fake fields or lines, the JSON object, the reasons' vocabulary.
 */
#include "capture/bypass_line.h"

#include <gtest/gtest.h>

#include <string>

namespace {

fkg::BypassLine
sample()
{
	return {"orders_customer_id_fkey",
	        "public.orders",
	        "public.customers",
	        "public.orders",
	        false,
	        "COPY",
	        50000,
	        fkg::kReplicaRole,
	        "etl",
	        "shop",
	        4242};
}

TEST(BypassLine, Text)
{
	EXPECT_EQ(fkg::bypass_line_text(sample(), true),
	          "fk_guard: foreign key \"orders_customer_id_fkey\" not enforced for 50000 rows written to "
	          "\"public.orders\" by role \"etl\" (session_replication_role = replica): child_table=\"public.orders\" "
	          "parent_table=\"public.customers\" side=child operation=COPY rows=50000 reason=replica_role "
	          "database=\"shop\" pid=4242");
}

TEST(BypassLine, OneRowAndSeveralReasons)
{
	fkg::BypassLine l = sample();
	l.rows = 1;
	l.reasons = fkg::kReplicaRole | fkg::kTriggersDisabled;
	l.parent_side = true;
	std::string line = fkg::bypass_line_text(l, true);
	EXPECT_NE(line.find("for 1 row written"), std::string::npos);
	EXPECT_NE(line.find("(session_replication_role = replica; RI triggers disabled)"), std::string::npos);
	EXPECT_NE(line.find(" side=parent "), std::string::npos);
	EXPECT_NE(line.find(" reason=replica_role,triggers_disabled "), std::string::npos);
}

TEST(BypassLine, NamesCannotFakeFieldsOrLines)
{
	fkg::BypassLine l = sample();
	l.user = "mal\nlory\" reason=none";
	l.table = "\"t\"\r\n2026-01-01 LOG:  fk_guard: x";
	std::string line = fkg::bypass_line_text(l, true);
	EXPECT_EQ(line.find('\n'), std::string::npos);
	EXPECT_EQ(line.find('\r'), std::string::npos);
	EXPECT_NE(line.find("by role \"mal\\nlory\\\" reason=none\""), std::string::npos);
	EXPECT_NE(line.find("written to \"\\\"t\\\"\\r\\n2026-01-01 LOG:  fk_guard: x\""), std::string::npos);
}

TEST(BypassLine, NonUtf8DatabaseIsAscii)
{
	fkg::BypassLine l = sample();
	l.user = "\xe9tl";
	std::string line = fkg::bypass_line_text(l, false);
	EXPECT_NE(line.find("by role \"\\u00e9tl\""), std::string::npos);
	for (unsigned char c : line)
		EXPECT_LT(c, 0x80);
}

TEST(BypassLine, Json)
{
	EXPECT_EQ(
		fkg::bypass_line_json(sample(), true),
		"{\"fk_guard\":\"bypass\",\"constraint\":\"orders_customer_id_fkey\",\"child_table\":\"public.orders\","
		"\"parent_table\":\"public.customers\",\"table\":\"public.orders\",\"side\":\"child\",\"operation\":\"COPY\","
		"\"rows\":50000,\"reasons\":[\"replica_role\"],\"user\":\"etl\",\"database\":\"shop\",\"pid\":4242}");
}

TEST(BypassLine, TriggerLine)
{
	fkg::TriggerLine l = {"c", "public.c", "public.p", "public.c_1", false, true, "dba", "shop", 7};
	EXPECT_EQ(fkg::trigger_line_text(l, true),
	          "fk_guard: RI triggers of foreign key \"c\" set to fire on replicas only on \"public.c_1\" by role "
	          "\"dba\": writes to it are not checked until ALTER TABLE ... ENABLE TRIGGER: child_table=\"public.c\" "
	          "parent_table=\"public.p\" side=child reason=triggers_replica_only database=\"shop\" pid=7");
	l.replica_only = false;
	EXPECT_EQ(
		fkg::trigger_line_json(l, true),
		"{\"fk_guard\":\"triggers_disabled\",\"constraint\":\"c\",\"child_table\":\"public.c\",\"parent_table\":"
		"\"public.p\",\"table\":\"public.c_1\",\"side\":\"child\",\"reason\":\"triggers_disabled\",\"user\":\"dba\","
		"\"database\":\"shop\",\"pid\":7}");
}

TEST(BypassLine, ReasonNames)
{
	EXPECT_STREQ(fkg::bypass_reason_name(fkg::kReplicaRole), "replica_role");
	EXPECT_STREQ(fkg::bypass_reason_name(fkg::kTriggersDisabled), "triggers_disabled");
	EXPECT_STREQ(fkg::bypass_reason_name(fkg::kTriggersReplicaOnly), "triggers_replica_only");
}

} // namespace
