/*
 * repair_query_test.cpp
 *    Unit tests for the SQL text of fk_repair (src/repair/repair_query.cpp).
 *    Whether PostgreSQL agrees with what the statements do is tested by sql/repair.sql
 *    and test/t/060_repair.pl.
 */
#include "repair/repair_query.h"

#include <gtest/gtest.h>

namespace {

using fkg::ForeignKeySpec;
using fkg::QualifiedName;
using fkg::RepairAction;

constexpr QualifiedName kNone{nullptr, nullptr};

/* "Sales"."order lines"(order_id, region) REFERENCES "Sales".orders(id, region). */
ForeignKeySpec
composite_key(bool partitioned_child)
{
	ForeignKeySpec fk{};
	fk.constraint_name = "lines_fk";
	fk.scan_relation = {"Sales", "order lines"};
	fk.scan_partitioned = partitioned_child;
	fk.parent_relation = {"Sales", "orders"};
	fk.nkeys = 2;
	fk.keys[0] = {"order_id", "id", {"pg_catalog", "="}, kNone, {"pg_catalog", "int8"}, kNone, false, false};
	fk.keys[1] = {"region", "region", {"pg_catalog", "="}, kNone, kNone, kNone, false, false};
	return fk;
}

bool
contains(const std::string &haystack, const std::string &needle)
{
	return haystack.find(needle) != std::string::npos;
}

size_t
occurrences(const std::string &haystack, const std::string &needle)
{
	size_t n = 0;
	for (size_t at = haystack.find(needle); at != std::string::npos; at = haystack.find(needle, at + 1))
		n++;
	return n;
}

TEST(RepairAction, ParsesTheFourActionsOnly)
{
	RepairAction action;
	EXPECT_TRUE(fkg::parse_repair_action("quarantine", &action));
	EXPECT_EQ(action, RepairAction::kQuarantine);
	EXPECT_TRUE(fkg::parse_repair_action("insert_parents", &action));
	EXPECT_EQ(action, RepairAction::kInsertParents);
	EXPECT_TRUE(fkg::parse_repair_action("set_null", &action));
	EXPECT_EQ(action, RepairAction::kSetNull);
	EXPECT_TRUE(fkg::parse_repair_action("delete", &action));
	EXPECT_EQ(action, RepairAction::kDelete);
	EXPECT_FALSE(fkg::parse_repair_action("DELETE", &action));
	EXPECT_FALSE(fkg::parse_repair_action("", &action));
}

/* The statement that changes rows evaluates fk_orphans' predicate itself, twice:
 * to pick the batch and on each row it changes. */
TEST(RepairBatch, ChangingStatementsRecheckTheOrphanPredicate)
{
	ForeignKeySpec fk = composite_key(false);
	const std::string predicate = fkg::orphan_condition(fk);
	for (RepairAction action : {RepairAction::kDelete, RepairAction::kQuarantine, RepairAction::kSetNull}) {
		std::string sql = fkg::repair_batch_statement(fk, action, 500);
		EXPECT_EQ(occurrences(sql, predicate), 2u) << sql;
		EXPECT_TRUE(contains(sql, " LIMIT 500)")) << sql;
		EXPECT_TRUE(contains(sql, "fk.tableoid OPERATOR(pg_catalog.=) b.t AND fk.ctid OPERATOR(pg_catalog.=) b.c"));
	}
	std::string insert = fkg::repair_batch_statement(fk, RepairAction::kInsertParents, 7);
	EXPECT_EQ(occurrences(insert, predicate), 1u) << insert;
}

TEST(RepairBatch, ReadsPartitionedTablesWholeAndOthersOnly)
{
	EXPECT_TRUE(contains(fkg::repair_batch_statement(composite_key(false), RepairAction::kDelete, 1),
	                     "DELETE FROM ONLY \"Sales\".\"order lines\" fk USING batch b"));
	std::string partitioned = fkg::repair_batch_statement(composite_key(true), RepairAction::kDelete, 1);
	EXPECT_TRUE(contains(partitioned, "DELETE FROM \"Sales\".\"order lines\" fk USING batch b"));
	EXPECT_FALSE(contains(partitioned, "ONLY \"Sales\".\"order lines\""));
}

/* Every batch resumes after the position the last one reached: a plain table
 * from the ctid (a TID range scan), a partitioned one in (tableoid, ctid) order,
 * compared with the same operators ORDER BY sorts by. */
TEST(RepairBatch, ResumesAfterThePositionReached)
{
	std::string plain = fkg::repair_batch_statement(composite_key(false), RepairAction::kDelete, 5);
	EXPECT_TRUE(contains(plain, " fk WHERE fk.ctid OPERATOR(pg_catalog.>) $2 AND ")) << plain;
	EXPECT_FALSE(contains(plain, "ORDER BY fk.tableoid")) << plain;
	EXPECT_TRUE(contains(plain, "SELECT (SELECT pg_catalog.count(*) FROM changed), (SELECT pg_catalog.count(*) FROM "
	                            "batch), r.t, r.c FROM (SELECT) s LEFT JOIN (SELECT b.t, b.c FROM batch b ORDER BY "
	                            "b.t DESC, b.c DESC LIMIT 1) r ON true"))
		<< plain;
	for (RepairAction action :
	     {RepairAction::kDelete, RepairAction::kQuarantine, RepairAction::kSetNull, RepairAction::kInsertParents}) {
		std::string partitioned = fkg::repair_batch_statement(composite_key(true), action, 5);
		EXPECT_TRUE(contains(partitioned, " fk WHERE (fk.tableoid OPERATOR(pg_catalog.>) $1 OR fk.tableoid "
		                                  "OPERATOR(pg_catalog.=) $1 AND fk.ctid OPERATOR(pg_catalog.>) $2) AND "))
			<< partitioned;
		EXPECT_TRUE(contains(partitioned, " ORDER BY fk.tableoid, fk.ctid LIMIT 5)")) << partitioned;
	}
}

TEST(RepairBatch, SetNullSetsEveryKeyColumn)
{
	std::string sql = fkg::repair_batch_statement(composite_key(false), RepairAction::kSetNull, 10);
	EXPECT_TRUE(contains(sql, "UPDATE ONLY \"Sales\".\"order lines\" fk SET \"order_id\" = NULL, \"region\" = NULL"));
}

TEST(RepairBatch, SetNullUnderMatchSimpleKeepsNotNullColumns)
{
	/* bit 1: "region" is NOT NULL; one NULL column is enough under MATCH SIMPLE */
	std::string sql = fkg::repair_batch_statement(composite_key(false), RepairAction::kSetNull, 10, 2u);
	EXPECT_TRUE(contains(sql, "fk SET \"order_id\" = NULL FROM batch b")) << sql;
	ForeignKeySpec full = composite_key(false);
	full.match_full = true;
	EXPECT_TRUE(contains(fkg::repair_batch_statement(full, RepairAction::kSetNull, 10, 2u),
	                     "fk SET \"order_id\" = NULL, \"region\" = NULL FROM batch b"));
}

TEST(RepairBatch, InsertParentsInsertsDistinctCompleteKeys)
{
	std::string sql = fkg::repair_batch_statement(composite_key(false), RepairAction::kInsertParents, 10);
	EXPECT_EQ(sql.rfind("WITH batch AS MATERIALIZED (SELECT fk.tableoid AS t, fk.ctid AS c, fk.\"order_id\" AS k1, "
	                    "fk.\"region\" AS k2 FROM ONLY \"Sales\".\"order lines\" fk WHERE ",
	                    0),
	          0u)
		<< sql;
	EXPECT_TRUE(contains(sql, "AND ROW(fk.\"order_id\", fk.\"region\") IS NOT NULL LIMIT 10)")) << sql;
	EXPECT_TRUE(contains(sql, "inserted AS (INSERT INTO \"Sales\".\"orders\" (\"id\", \"region\") SELECT DISTINCT "
	                          "b.k1, b.k2 FROM batch b ON CONFLICT DO NOTHING RETURNING 1)"))
		<< sql;
	EXPECT_TRUE(contains(sql, ", (SELECT pg_catalog.array_agg(b.t) FROM batch b), (SELECT pg_catalog.array_agg(b.c) "
	                          "FROM batch b) FROM (SELECT) s"))
		<< sql;
}

/* insert_parents' progress: the batch's rows, found again by partition and
 * ctid, that the orphan predicate still selects. */
TEST(RepairBatch, ProgressCountsTheBatchRowsStillOrphans)
{
	ForeignKeySpec fk = composite_key(true);
	std::string sql = fkg::repair_progress_query(fk);
	EXPECT_EQ(occurrences(sql, fkg::orphan_condition(fk)), 1u) << sql;
	EXPECT_TRUE(contains(sql, "fk.ctid OPERATOR(pg_catalog.=) ANY ($2) AND EXISTS (SELECT FROM ROWS FROM "
	                          "(pg_catalog.unnest($1), pg_catalog.unnest($2)) u(t, c)"))
		<< sql;
}

TEST(RepairBatch, QuarantineReturnsTheRowsAndKeysAsOneArray)
{
	std::string sql = fkg::repair_batch_statement(composite_key(false), RepairAction::kQuarantine, 10);
	EXPECT_TRUE(contains(sql, "RETURNING pg_catalog.to_jsonb(fk.*) AS row_data, fk.*::pg_catalog.text AS row_text, "
	                          "pg_catalog.jsonb_build_object("));
	EXPECT_TRUE(contains(sql, "SELECT pg_catalog.jsonb_agg("));
}

TEST(RepairDryRun, CountsWhatEachActionChanges)
{
	ForeignKeySpec fk = composite_key(false);
	EXPECT_EQ(fkg::repair_count_query(fk, RepairAction::kDelete).rfind("SELECT pg_catalog.count(*) FROM ONLY", 0), 0u);
	EXPECT_TRUE(contains(fkg::repair_count_query(fk, RepairAction::kInsertParents), "SELECT DISTINCT fk.\"order_id\""));
	EXPECT_TRUE(contains(fkg::repair_keys_query(fk), "GROUP BY 1 ORDER BY 2 DESC, 1"));
}

} // namespace
