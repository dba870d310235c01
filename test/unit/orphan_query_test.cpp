/*
 * orphan_query_test.cpp
 *    Unit tests for the SQL text of the orphan scans (src/orphan_query.cpp).
 *    Whether PostgreSQL agrees with the result is tested by sql/orphans_*.sql.
 */
#include "orphan_query.h"

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
	fk.keys[0] = {"customer_id", "id", {"pg_catalog", "="}, kNone, kNone, kNone};
	return fk;
}

ForeignKeySpec
two_column_key(bool match_full)
{
	ForeignKeySpec fk = simple_key();
	fk.match_full = match_full;
	fk.nkeys = 2;
	fk.keys[1] = {"region", "region", {"pg_catalog", "="}, kNone, kNone, kNone};
	return fk;
}

std::string
rows_query(const ForeignKeySpec &fk, int64_t limit)
{
	return fkg::orphan_rows_query(&fk, 1, limit);
}

bool
contains(const std::string &haystack, const std::string &needle)
{
	return haystack.find(needle) != std::string::npos;
}

TEST(QuoteIdentifier, AlwaysQuotesAndDoublesEmbeddedQuotes)
{
	EXPECT_EQ(fkg::quote_identifier("orders"), "\"orders\"");
	EXPECT_EQ(fkg::quote_identifier("Or\"ders"), "\"Or\"\"ders\"");
	EXPECT_EQ(fkg::quote_identifier("commandes clients é"), "\"commandes clients é\"");
}

TEST(QuoteLiteral, DoublesQuotesAndUsesEscapeSyntaxOnlyForBackslashes)
{
	EXPECT_EQ(fkg::quote_literal("it's"), "'it''s'");
	EXPECT_EQ(fkg::quote_literal("a\\b"), "E'a\\\\b'");
	EXPECT_EQ(fkg::quote_literal(""), "''");
}

TEST(OrphanRowsQuery, JoinsOnTheConstraintOperatorAndKeepsRowsWithoutPartner)
{
	const std::string sql = rows_query(simple_key(), -1);
	EXPECT_TRUE(contains(sql, " FROM ONLY \"public\".\"orders\" fk LEFT JOIN ONLY \"public\".\"customers\" p1 ON "
	                          "(p1.\"id\" OPERATOR(\"pg_catalog\".=) fk.\"customer_id\")"))
	    << sql;
	EXPECT_TRUE(contains(sql, " WHERE (p1.\"id\" IS NULL AND (fk.\"customer_id\" IS NOT NULL))")) << sql;
	EXPECT_TRUE(contains(sql, "ORDER BY r.n, r.tableoid, r.ctid")) << sql;
	EXPECT_FALSE(contains(sql, "rank")) << sql;
}

TEST(OrphanRowsQuery, MatchSimpleSkipsRowsWithAnyNullKeyColumn)
{
	const std::string sql = rows_query(two_column_key(false), -1);
	EXPECT_TRUE(contains(sql, "(fk.\"customer_id\" IS NOT NULL AND fk.\"region\" IS NOT NULL)")) << sql;
}

TEST(OrphanRowsQuery, MatchFullChecksEveryRowWithANonNullKeyColumn)
{
	const std::string sql = rows_query(two_column_key(true), -1);
	EXPECT_TRUE(contains(sql, "(fk.\"customer_id\" IS NOT NULL OR fk.\"region\" IS NOT NULL)")) << sql;
}

TEST(OrphanRowsQuery, ScansPartitionedTablesWithTheirPartitions)
{
	ForeignKeySpec fk = simple_key();
	fk.scan_partitioned = true;
	fk.parent_partitioned = true;
	const std::string sql = rows_query(fk, -1);
	EXPECT_TRUE(contains(sql, " FROM \"public\".\"orders\" fk LEFT JOIN \"public\".\"customers\" p1")) << sql;
	EXPECT_FALSE(contains(sql, "ONLY")) << sql;
}

TEST(OrphanRowsQuery, AddsCastsAndCollationAsRiTriggersDo)
{
	ForeignKeySpec fk = simple_key();
	fk.keys[0].fk_cast = {"pg_catalog", "int8"};
	fk.keys[0].pk_cast = {"my schema", "base\"type"};
	fk.keys[0].collation = {"pg_catalog", "C"};
	const std::string sql = rows_query(fk, -1);
	EXPECT_TRUE(contains(sql, "p1.\"id\"::\"my schema\".\"base\"\"type\" OPERATOR(\"pg_catalog\".=) "
	                          "fk.\"customer_id\"::\"pg_catalog\".\"int8\" COLLATE \"pg_catalog\".\"C\")"))
	    << sql;
}

TEST(OrphanRowsQuery, ReportsKeyColumnsAsJsonAndArraysAndAppliesTheLimitPerKey)
{
	ForeignKeySpec fk = two_column_key(false);
	fk.keys[1].fk_column = "Région's";
	const std::string sql = rows_query(fk, 5);
	EXPECT_TRUE(contains(sql, "pg_catalog.jsonb_build_object('customer_id', fk.\"customer_id\", "
	                          "'Région''s', fk.\"Région's\")"))
	    << sql;
	EXPECT_TRUE(contains(sql, "ARRAY['customer_id', 'Région''s']::pg_catalog.name[]")) << sql;
	EXPECT_TRUE(contains(sql, "ARRAY['id', 'region']::pg_catalog.name[]")) << sql;
	EXPECT_TRUE(contains(sql, "16390::pg_catalog.oid::pg_catalog.regclass")) << sql;
	EXPECT_TRUE(contains(sql, "row_number() OVER (PARTITION BY v.n ORDER BY j.tableoid, j.ctid)")) << sql;
	EXPECT_TRUE(contains(sql, " WHERE r.rank <= 5 ")) << sql;
}

TEST(OrphanRowsQuery, ZeroLimitIsALimit)
{
	EXPECT_TRUE(contains(rows_query(simple_key(), 0), " WHERE r.rank <= 0 "));
}

TEST(OrphanRowsQuery, ScansATableOnceForAllItsForeignKeys)
{
	ForeignKeySpec fks[2] = {simple_key(), two_column_key(true)};
	fks[1].constraint_name = "orders_region_fkey";
	fks[1].parent_relation = {"public", "regions"};
	const std::string sql = fkg::orphan_rows_query(fks, 2, -1);
	EXPECT_EQ(sql.find(" FROM ONLY \"public\".\"orders\" fk "), sql.rfind(" FROM ONLY \"public\".\"orders\" fk "))
	    << sql;
	EXPECT_TRUE(contains(sql, " LEFT JOIN ONLY \"public\".\"customers\" p1 ON ")) << sql;
	EXPECT_TRUE(contains(sql, " LEFT JOIN ONLY \"public\".\"regions\" p2 ON ")) << sql;
	/* A row is kept when it is an orphan of either key... */
	EXPECT_TRUE(contains(sql, "(fk.\"customer_id\" IS NOT NULL)) OR (p2.\"id\" IS NULL AND")) << sql;
	/* ...and reported once per key it is an orphan of. */
	EXPECT_TRUE(contains(sql, "(1, j.o1, 'orders_customer_id_fkey'::pg_catalog.name, ")) << sql;
	EXPECT_TRUE(contains(sql, "(2, j.o2, 'orders_region_fkey'::pg_catalog.name, ")) << sql;
	EXPECT_TRUE(contains(sql, "WHERE v.orphan")) << sql;
}

TEST(OrphanSummaryQuery, CountsRowsAndDistinctCompleteKeysPerForeignKey)
{
	const ForeignKeySpec one_key = simple_key();
	const std::string one = fkg::orphan_summary_query(&one_key, 1);
	EXPECT_TRUE(contains(one, "pg_catalog.count(*) FILTER (WHERE j.o1) AS r1, "
	                          "pg_catalog.count(DISTINCT j.d1) FILTER (WHERE j.o1 AND j.c1) AS m1"))
	    << one;
	EXPECT_TRUE(contains(one, "fk.\"customer_id\" AS d1, (fk.\"customer_id\" IS NOT NULL) AS c1")) << one;
	EXPECT_TRUE(contains(one, "(1, 'orders_customer_id_fkey'::pg_catalog.name, "
	                          "16390::pg_catalog.oid::pg_catalog.regclass, true, a.r1, a.m1)"))
	    << one;
	EXPECT_TRUE(contains(one, "SELECT v.constraint_name, 16400::pg_catalog.oid::pg_catalog.regclass, ")) << one;

	const ForeignKeySpec two_keys = two_column_key(true);
	const std::string two = fkg::orphan_summary_query(&two_keys, 1);
	EXPECT_TRUE(contains(two, "ROW(fk.\"customer_id\", fk.\"region\") AS d1, "
	                          "(fk.\"customer_id\" IS NOT NULL AND fk.\"region\" IS NOT NULL) AS c1"))
	    << two;
}

} // namespace
