/*
 * orphan_query_test.cpp
 *    Unit tests for the SQL text of the orphan scans (src/orphans/orphan_query.cpp).
 *    Whether PostgreSQL agrees with the result is tested by sql/orphans_*.sql.
 */
#include "orphans/orphan_query.h"
#include "common/sql_quote.h"

#include <gtest/gtest.h>

namespace {

using fkg::ForeignKeySpec;
using fkg::QualifiedName;

constexpr QualifiedName kNone{nullptr, nullptr};

/* orders(customer_id) REFERENCES customers(id), integers on both sides. */
ForeignKeySpec
simple_key()
{
	ForeignKeySpec fk{};
	fk.constraint_name = "orders_customer_id_fkey";
	fk.scan_relid = 16400;
	fk.scan_relation = {"public", "orders"};
	fk.parent_relid = 16390;
	fk.parent_relation = {"public", "customers"};
	fk.validated = true;
	fk.nkeys = 1;
	fk.keys[0] = {"customer_id", "id", {"pg_catalog", "="}, kNone, kNone, kNone, false, false};
	return fk;
}

ForeignKeySpec
two_column_key(bool match_full)
{
	ForeignKeySpec fk = simple_key();
	fk.match_full = match_full;
	fk.nkeys = 2;
	fk.keys[1] = {"region", "region", {"pg_catalog", "="}, kNone, kNone, kNone, false, false};
	return fk;
}

bool
contains(const std::string &haystack, const std::string &needle)
{
	return haystack.find(needle) != std::string::npos;
}

TEST(QuoteIdentifier, AlwaysQuotesAndDoublesEmbeddedQuotes)
{
	EXPECT_EQ(fkg::sql::quote_ident("orders"), "\"orders\"");
	EXPECT_EQ(fkg::sql::quote_ident("Or\"ders"), "\"Or\"\"ders\"");
	EXPECT_EQ(fkg::sql::quote_ident("commandes clients é"), "\"commandes clients é\"");
	EXPECT_EQ(fkg::sql::qualified_name("Ventes \"EU\"", "a.b"), "\"Ventes \"\"EU\"\"\".\"a.b\"");
}

TEST(QuoteLiteral, DoublesQuotesAndUsesEscapeSyntaxOnlyForBackslashes)
{
	EXPECT_EQ(fkg::sql::quote_literal("it's"), "'it''s'");
	EXPECT_EQ(fkg::sql::quote_literal("a\\b"), "E'a\\\\b'");
	EXPECT_EQ(fkg::sql::quote_literal(""), "''");
}

TEST(OrphanRowsQuery, LooksForThePartnerOnTheConstraintOperatorAsRiDoes)
{
	const std::string sql = fkg::orphan_rows_query(simple_key(), -1);
	EXPECT_TRUE(contains(sql, " FROM ONLY \"public\".\"orders\" fk WHERE ROW(fk.\"customer_id\") IS NOT NULL "
	                          "AND NOT EXISTS (SELECT FROM ONLY \"public\".\"customers\" pk WHERE "
	                          "pk.\"id\" OPERATOR(\"pg_catalog\".=) fk.\"customer_id\")"))
		<< sql;
	EXPECT_TRUE(contains(sql, "ORDER BY fk.tableoid, fk.ctid")) << sql;
	EXPECT_FALSE(contains(sql, "LIMIT")) << sql;
	EXPECT_FALSE(contains(sql, "fk.\"customer_id\" IS"))
		<< "IS NULL tests a composite value's fields, not its own null flag";
}

TEST(OrphanRowsQuery, MatchSimpleSkipsRowsWithAnyNullKeyColumn)
{
	const std::string sql = fkg::orphan_rows_query(two_column_key(false), -1);
	EXPECT_TRUE(contains(sql, "WHERE ROW(fk.\"customer_id\", fk.\"region\") IS NOT NULL AND")) << sql;
}

TEST(OrphanRowsQuery, MatchFullChecksEveryRowWithANonNullKeyColumn)
{
	const std::string sql = fkg::orphan_rows_query(two_column_key(true), -1);
	EXPECT_TRUE(contains(sql, "WHERE NOT (ROW(fk.\"customer_id\", fk.\"region\") IS NULL) AND")) << sql;
}

TEST(OrphanRowsQuery, ScansPartitionedTablesWithTheirPartitions)
{
	ForeignKeySpec fk = simple_key();
	fk.scan_partitioned = true;
	fk.parent_partitioned = true;
	const std::string sql = fkg::orphan_rows_query(fk, -1);
	EXPECT_TRUE(contains(sql, " FROM \"public\".\"orders\" fk WHERE")) << sql;
	EXPECT_TRUE(contains(sql, "(SELECT FROM \"public\".\"customers\" pk WHERE")) << sql;
	EXPECT_FALSE(contains(sql, "ONLY")) << sql;
}

TEST(OrphanRowsByCtidQuery, ReadsTheGivenTableOnlyOrAPartitionThroughItsParent)
{
	ForeignKeySpec fk = simple_key();
	fk.scan_partitioned = true;
	std::string sql = fkg::orphan_rows_by_ctid_query(fk, {"sales", "orders_2024"});
	EXPECT_TRUE(contains(sql, " FROM ONLY \"sales\".\"orders_2024\" fk WHERE fk.ctid OPERATOR(pg_catalog.=) ANY ($1)"))
		<< sql;
	EXPECT_FALSE(contains(sql, "$2")) << sql;
	/* leaves named by OID, each with its own ctids, read through the
	 * partitioned table, whose privileges and row security apply, as on the
	 * planner's path */
	const unsigned leaves[] = {16500, 16420};
	sql = fkg::orphan_rows_by_ctid_through_parent_query(fk, leaves, 2);
	EXPECT_TRUE(contains(sql, " FROM \"public\".\"orders\" fk WHERE fk.ctid OPERATOR(pg_catalog.=) ANY ($1) AND CASE "
	                          "WHEN fk.tableoid OPERATOR(pg_catalog.=) 16500::pg_catalog.oid THEN "
	                          "fk.ctid OPERATOR(pg_catalog.=) ANY ($2) "
	                          "WHEN fk.tableoid OPERATOR(pg_catalog.=) 16420::pg_catalog.oid THEN "
	                          "fk.ctid OPERATOR(pg_catalog.=) ANY ($3) ELSE false END"))
		<< sql;
	EXPECT_FALSE(contains(sql, "ONLY")) << sql;
	EXPECT_TRUE(contains(sql, " ORDER BY fk.tableoid, fk.ctid")) << sql;
}

TEST(RiCannotCompare, AskedOnlyForRowsRiWouldCheck)
{
	ForeignKeySpec fk = two_column_key(true);
	EXPECT_FALSE(fkg::ri_cannot_compare(fk));
	fk.keys[0].collation_conflict = true;
	EXPECT_TRUE(fkg::ri_cannot_compare(fk));
	EXPECT_EQ(fkg::checked_rows_exist_query(fk), "SELECT EXISTS (SELECT FROM ONLY \"public\".\"orders\" fk WHERE "
	                                             "NOT (ROW(fk.\"customer_id\", fk.\"region\") IS NULL))");
}

TEST(HashingMaySplit, OnlyUnderANondeterministicCollation)
{
	ForeignKeySpec fk = two_column_key(false);
	EXPECT_FALSE(fkg::hashing_may_split(fk));
	fk.keys[1].nondeterministic = true;
	EXPECT_TRUE(fkg::hashing_may_split(fk));
}

TEST(OrphanRowsQuery, AddsCastsAndCollationAsRiTriggersDo)
{
	ForeignKeySpec fk = simple_key();
	fk.keys[0].fk_cast = {"pg_catalog", "int8"};
	fk.keys[0].pk_cast = {"my schema", "base\"type"};
	fk.keys[0].collation = {"pg_catalog", "C"};
	const std::string sql = fkg::orphan_rows_query(fk, -1);
	EXPECT_TRUE(contains(sql, "pk.\"id\"::\"my schema\".\"base\"\"type\" OPERATOR(\"pg_catalog\".=) "
	                          "fk.\"customer_id\"::\"pg_catalog\".\"int8\" COLLATE \"pg_catalog\".\"C\")"))
		<< sql;
}

TEST(OrphanRowsQuery, ReportsKeyColumnsAsJsonAndArraysAndAppliesTheLimit)
{
	ForeignKeySpec fk = two_column_key(false);
	fk.keys[1].fk_column = "Région's";
	const std::string sql = fkg::orphan_rows_query(fk, 5);
	EXPECT_TRUE(contains(sql, "pg_catalog.jsonb_build_object('customer_id', fk.\"customer_id\", "
	                          "'Région''s', fk.\"Région's\")"))
		<< sql;
	EXPECT_TRUE(contains(sql, "ARRAY['customer_id', 'Région''s']::pg_catalog.name[]")) << sql;
	EXPECT_TRUE(contains(sql, "ARRAY['id', 'region']::pg_catalog.name[]")) << sql;
	EXPECT_TRUE(contains(sql, "16390::pg_catalog.oid::pg_catalog.regclass")) << sql;
	EXPECT_EQ(sql.substr(sql.size() - 8), " LIMIT 5") << sql;
}

TEST(OrphanRowsQuery, ZeroLimitIsALimit)
{
	EXPECT_TRUE(contains(fkg::orphan_rows_query(simple_key(), 0), " LIMIT 0"));
}

TEST(OrphanSummaryQuery, CountsRowsAndKeysDistinctUnderTheConstraintsEquality)
{
	const std::string one = fkg::orphan_summary_query(simple_key());
	EXPECT_TRUE(contains(one, "pg_catalog.count(*), pg_catalog.count(DISTINCT fk.\"customer_id\") "
	                          "FILTER (WHERE ROW(fk.\"customer_id\") IS NOT NULL)"))
		<< one;
	EXPECT_TRUE(contains(one, "16400::pg_catalog.oid::pg_catalog.regclass, 16390::pg_catalog.oid::pg_catalog.regclass, "
	                          "true, "))
		<< one;

	const std::string two = fkg::orphan_summary_query(two_column_key(true));
	EXPECT_TRUE(contains(two, "count(DISTINCT ROW(fk.\"customer_id\", fk.\"region\")) "
	                          "FILTER (WHERE ROW(fk.\"customer_id\", fk.\"region\") IS NOT NULL)"))
		<< two;

	/* As the operator takes the fk column: its input type, RI's collation. */
	ForeignKeySpec cast = simple_key();
	cast.keys[0].fk_cast = {"pg_catalog", "text"};
	cast.keys[0].collation = {"public", "ci"};
	const std::string three = fkg::orphan_summary_query(cast);
	EXPECT_TRUE(contains(three,
	                     "count(DISTINCT fk.\"customer_id\"::\"pg_catalog\".\"text\" COLLATE \"public\".\"ci\")"))
		<< three;
}

} // namespace

namespace {

TEST(PrecheckRowsQuery, JudgesKeysWithoutStandInsInOnePassOfLeftJoins)
{
	ForeignKeySpec customers = two_column_key(false);
	ForeignKeySpec products = simple_key();
	products.constraint_name = "orders_product_id_fkey";
	products.keys[0] = {"product_id", "id", {"pg_catalog", "="}, kNone, kNone, kNone, false, false};
	products.parent_relation = {"public", "products"};
	products.parent_partitioned = true;
	const fkg::PrecheckKey keys[] = {{&customers, nullptr, 0}, {&products, nullptr, 0}};
	const std::string sql = fkg::precheck_rows_query(keys, 2, "WITH s AS NOT MATERIALIZED (x)", "s", "ctid col");
	EXPECT_EQ(sql.rfind("WITH s AS NOT MATERIALIZED (x) SELECT j.constraint_name, j.parent_table, j.\"ctid col\", "
	                    "j.key FROM (SELECT v.n, ",
	                    0),
	          0u)
		<< sql;
	EXPECT_TRUE(contains(sql, " FROM \"s\" fk LEFT JOIN ONLY \"public\".\"customers\" pk1 ON "
	                          "pk1.\"id\" OPERATOR(\"pg_catalog\".=) fk.\"customer_id\" AND "
	                          "pk1.\"region\" OPERATOR(\"pg_catalog\".=) fk.\"region\" "
	                          "LEFT JOIN \"public\".\"products\" pk2 ON "
	                          "pk2.\"id\" OPERATOR(\"pg_catalog\".=) fk.\"product_id\" CROSS JOIN LATERAL (VALUES "))
		<< sql;
	EXPECT_TRUE(contains(sql, "WHERE ((ROW(fk.\"customer_id\", fk.\"region\") IS NOT NULL AND pk1.ctid IS NULL) OR "
	                          "(ROW(fk.\"product_id\") IS NOT NULL AND pk2.ctid IS NULL)) AND v.rejected"))
		<< sql;
	EXPECT_TRUE(contains(sql, "(2, 'orders_product_id_fkey'::pg_catalog.name, "
	                          "16390::pg_catalog.oid::pg_catalog.regclass, "
	                          "(ROW(fk.\"product_id\") IS NOT NULL AND pk2.ctid IS NULL), CASE WHEN "))
		<< sql;
	EXPECT_TRUE(contains(sql, "ORDER BY j.n, j.\"ctid col\"")) << sql;
	EXPECT_FALSE(contains(sql, "UNION ALL")) << sql;
}

TEST(PrecheckRowsQuery, AKeyWithStandInsGetsItsOwnAntiJoins)
{
	ForeignKeySpec fk = two_column_key(true);
	const char *stand_ins[] = {"fk_guard_parent_1"};
	const fkg::PrecheckKey keys[] = {{&fk, stand_ins, 1}};
	const std::string sql = fkg::precheck_rows_query(keys, 1, "", "staged", "c");
	EXPECT_TRUE(contains(sql, " FROM \"staged\" fk WHERE NOT (ROW(fk.\"customer_id\", fk.\"region\") IS NULL) "
	                          "AND NOT EXISTS (SELECT FROM ONLY \"public\".\"customers\" pk WHERE "
	                          "pk.\"id\" OPERATOR(\"pg_catalog\".=) fk.\"customer_id\" AND "
	                          "pk.\"region\" OPERATOR(\"pg_catalog\".=) fk.\"region\") "
	                          "AND NOT EXISTS (SELECT FROM \"fk_guard_parent_1\" pk WHERE "
	                          "pk.\"id\" OPERATOR(\"pg_catalog\".=) fk.\"customer_id\" AND "
	                          "pk.\"region\" OPERATOR(\"pg_catalog\".=) fk.\"region\")"))
		<< sql;
	EXPECT_EQ(sql.rfind("SELECT j.constraint_name", 0), 0u) << sql;
	EXPECT_FALSE(contains(sql, "LEFT JOIN")) << sql;
}

TEST(PrecheckRowsQuery, WritesTheKeyAsPostgresqlsDetailDoes)
{
	ForeignKeySpec fk = two_column_key(true);
	fk.keys[1].fk_column = "Ré'gion";
	const fkg::PrecheckKey keys[] = {{&fk, nullptr, 0}};
	const std::string sql = fkg::precheck_rows_query(keys, 1, "", "staged", "c");
	EXPECT_TRUE(contains(sql, "pg_catalog.concat('(customer_id, Ré''gion)=(', "
	                          "CASE WHEN pg_catalog.num_nulls(fk.\"customer_id\") OPERATOR(pg_catalog.=) 1 THEN 'null' "
	                          "ELSE pg_catalog.format('%s', fk.\"customer_id\") END, ', ', "
	                          "CASE WHEN pg_catalog.num_nulls(fk.\"Ré'gion\") OPERATOR(pg_catalog.=) 1 THEN 'null' "
	                          "ELSE pg_catalog.format('%s', fk.\"Ré'gion\") END, ')')"))
		<< sql;
}

TEST(PrecheckCheckedRowsExistQuery, AsksOnlyForRowsRiWouldCheck)
{
	EXPECT_EQ(fkg::precheck_checked_rows_exist_query(two_column_key(false), "WITH s AS (x)", "s"),
	          "WITH s AS (x) SELECT EXISTS (SELECT FROM \"s\" fk WHERE ROW(fk.\"customer_id\", fk.\"region\") IS NOT "
	          "NULL)");
}

TEST(OrphanRowsQuery, ShowsACitusTablesRowsUnderTheTableOrderedByShard)
{
	ForeignKeySpec fk = simple_key();
	fk.citus_child = true;
	const std::string sql = fkg::orphan_rows_query(fk, -1);
	/* fk.tableoid is a shard's, on another node: the table is named instead */
	EXPECT_FALSE(contains(sql, "fk.tableoid::pg_catalog.regclass,"));
	EXPECT_TRUE(contains(
		sql, "SELECT 'orders_customer_id_fkey'::pg_catalog.name, 16400::pg_catalog.oid::pg_catalog.regclass, "));
	EXPECT_TRUE(contains(sql, " ORDER BY pg_catalog.substring(fk.tableoid::pg_catalog.regclass::pg_catalog.text, "
	                          "'_([0-9]+)\"?$')::pg_catalog.int8, fk.ctid"));
}

TEST(OrphanRowsQuery, LocatedAddsTheShardOfACitusTableAndNullOtherwise)
{
	ForeignKeySpec fk = simple_key();
	EXPECT_TRUE(contains(fkg::orphan_rows_query(fk, -1, true), ", fk.ctid, NULL::pg_catalog.int8 FROM "));
	EXPECT_FALSE(contains(fkg::orphan_rows_query(fk, -1, false), "NULL::pg_catalog.int8"));
	fk.citus_child = true;
	EXPECT_TRUE(contains(fkg::orphan_rows_query(fk, -1, true),
	                     ", fk.ctid, pg_catalog.substring(fk.tableoid::pg_catalog.regclass::pg_catalog.text, "
	                     "'_([0-9]+)\"?$')::pg_catalog.int8 FROM "));
}

} // namespace
