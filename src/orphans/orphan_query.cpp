/*
 * orphan_query.cpp
 *    SQL text for the orphan scans (see orphan_query.h).  No PostgreSQL calls here.
 */
#include "orphans/orphan_query.h"

#include "common/sql_quote.h"

namespace fkg {

static std::string
qualified(const QualifiedName &n)
{
	return sql::qualified_name(n.schema, n.name);
}

static std::string
cast_suffix(const QualifiedName &type)
{
	return type.empty() ? std::string() : "::" + qualified(type);
}

static std::string
regclass_literal(unsigned relid)
{
	return std::to_string(relid) + "::pg_catalog.oid::pg_catalog.regclass";
}

/* The fk columns as an argument list: "fk.a, fk.b". */
static std::string
fk_column_list(const ForeignKeySpec &fk)
{
	std::string sql;
	for (int i = 0; i < fk.nkeys; i++)
		sql += (i > 0 ? ", fk." : "fk.") + sql::quote_ident(fk.keys[i].fk_column);
	return sql;
}

/* "ROW(fk.a, fk.b)": the key columns as the fields of one row value.
 *
 * ROW(...) IS [NOT] NULL tests each field's own null flag, as ri_NullCheck
 * reads the tuple (fk.a IS NULL alone would, on a composite-typed column,
 * test that value's fields instead).  The planner splits it into one null
 * test per column, on the column's own null flag, which it estimates from
 * the column's null fraction: pg_catalog.num_nulls(...) = 0, which says the
 * same, is a function call the planner estimates at 0.5% of the rows, and
 * on a large table that made it probe the referenced key's index once per
 * row (a nested loop anti join) where a hash anti join is several times
 * faster (bench/run.sh, ratio (e)). */
static std::string
key_row(const ForeignKeySpec &fk)
{
	return "ROW(" + fk_column_list(fk) + ")";
}

/* True when every key column of the row is non-null (see key_row). */
static std::string
key_complete(const ForeignKeySpec &fk)
{
	return key_row(fk) + " IS NOT NULL";
}

/* FROM ... WHERE ...: the rows of fk.scan_relation that RI_FKey_check checks.
 * MATCH SIMPLE checks rows whose key has no null; MATCH FULL checks every row
 * with a non-null column (and partial nulls never find a partner). */
static std::string
checked_rows(const ForeignKeySpec &fk)
{
	std::string sql = " FROM ";
	sql += fk.scan_partitioned ? "" : "ONLY ";
	sql += qualified(fk.scan_relation) + " fk WHERE ";
	if (fk.match_full)
		sql += "NOT (" + key_row(fk) + " IS NULL)";
	else
		sql += key_complete(fk);
	return sql;
}

/* FROM ... WHERE ...: the rows of fk.scan_relation that RI_FKey_check would
 * reject.  The referenced row is looked for as RI does (SELECT 1 FROM pk
 * WHERE pk.a = fk.a ...): an anti join, whose "no partner" cannot be mistaken
 * for a partner whose key reads as NULL. */
static std::string
orphan_from_where(const ForeignKeySpec &fk)
{
	std::string sql = checked_rows(fk);
	sql += " AND NOT EXISTS (SELECT FROM ";
	sql += fk.parent_partitioned ? "" : "ONLY ";
	sql += qualified(fk.parent_relation) + " pk WHERE ";
	for (int i = 0; i < fk.nkeys; i++) {
		const KeyColumnSpec &k = fk.keys[i];
		if (i > 0)
			sql += " AND ";
		sql += "pk." + sql::quote_ident(k.pk_column) + cast_suffix(k.pk_cast);
		sql += " OPERATOR(" + sql::quote_ident(k.eq_operator.schema) + "." + k.eq_operator.name + ") ";
		sql += "fk." + sql::quote_ident(k.fk_column) + cast_suffix(k.fk_cast);
		if (!k.collation.empty())
			sql += " COLLATE " + qualified(k.collation);
	}
	sql += ")";
	return sql;
}

/* Whether some key column pair has this flag set. */
static bool
any_key(const ForeignKeySpec &fk, bool KeyColumnSpec::*flag)
{
	for (int i = 0; i < fk.nkeys; i++)
		if (fk.keys[i].*flag)
			return true;
	return false;
}

bool
ri_cannot_compare(const ForeignKeySpec &fk)
{
	return any_key(fk, &KeyColumnSpec::collation_conflict);
}

std::string
checked_rows_exist_query(const ForeignKeySpec &fk)
{
	return "SELECT EXISTS (SELECT" + checked_rows(fk) + ")";
}

bool
hashing_may_split(const ForeignKeySpec &fk)
{
	return any_key(fk, &KeyColumnSpec::nondeterministic);
}

static std::string
name_array(const ForeignKeySpec &fk, bool referencing)
{
	std::string sql = "ARRAY[";
	for (int i = 0; i < fk.nkeys; i++) {
		if (i > 0)
			sql += ", ";
		sql += sql::quote_literal(referencing ? fk.keys[i].fk_column : fk.keys[i].pk_column);
	}
	return sql + "]::pg_catalog.name[]";
}

static std::string
key_object(const ForeignKeySpec &fk)
{
	std::string sql = "pg_catalog.jsonb_build_object(";
	for (int i = 0; i < fk.nkeys; i++) {
		if (i > 0)
			sql += ", ";
		sql += sql::quote_literal(fk.keys[i].fk_column) + ", fk." + sql::quote_ident(fk.keys[i].fk_column);
	}
	return sql + ")";
}

/* SELECT list of fk_orphans' columns over the referencing table aliased fk. */
static std::string
orphan_columns(const ForeignKeySpec &fk)
{
	std::string sql = "SELECT " + sql::quote_literal(fk.constraint_name) + "::pg_catalog.name, ";
	sql += "fk.tableoid::pg_catalog.regclass, " + regclass_literal(fk.parent_relid) + ", ";
	sql += name_array(fk, true) + ", " + name_array(fk, false) + ", ";
	sql += key_object(fk) + ", fk.ctid";
	return sql;
}

std::string
orphan_rows_query(const ForeignKeySpec &fk, int64_t limit)
{
	std::string sql = orphan_columns(fk);
	sql += orphan_from_where(fk);
	sql += " ORDER BY fk.tableoid, fk.ctid";
	if (limit >= 0)
		sql += " LIMIT " + std::to_string(limit);
	return sql;
}

std::string
orphan_rows_by_ctid_query(const ForeignKeySpec &fk, const QualifiedName &table)
{
	std::string sql = orphan_columns(fk);
	sql += " FROM ONLY " + qualified(table) + " fk WHERE fk.ctid OPERATOR(pg_catalog.=) ANY ($1)";
	sql += " ORDER BY fk.tableoid, fk.ctid";
	return sql;
}

std::string
orphan_rows_by_ctid_through_parent_query(const ForeignKeySpec &fk, const unsigned *leaves, int nleaves)
{
	std::string sql = orphan_columns(fk);
	sql += " FROM " + qualified(fk.scan_relation) + " fk WHERE fk.ctid OPERATOR(pg_catalog.=) ANY ($1) AND CASE";
	for (int i = 0; i < nleaves; i++)
		sql += " WHEN fk.tableoid OPERATOR(pg_catalog.=) " + std::to_string(leaves[i]) +
		       "::pg_catalog.oid THEN fk.ctid OPERATOR(pg_catalog.=) ANY ($" + std::to_string(i + 2) + ")";
	sql += " ELSE false END ORDER BY fk.tableoid, fk.ctid";
	return sql;
}

std::string
orphan_summary_query(const ForeignKeySpec &fk, bool with_oid)
{
	/* Missing keys are distinct under the constraint's equality: each fk
	 * column as the operator takes it (cast to its input type, under the
	 * collation RI compares with), so that each one is a parent row to
	 * insert.  MATCH FULL's partial-null rows are orphans but name no key. */
	std::string key;
	for (int i = 0; i < fk.nkeys; i++) {
		const KeyColumnSpec &k = fk.keys[i];
		key += (i > 0 ? ", fk." : "fk.") + sql::quote_ident(k.fk_column) + cast_suffix(k.fk_cast);
		if (!k.collation.empty())
			key += " COLLATE " + qualified(k.collation);
	}
	if (fk.nkeys > 1)
		key = "ROW(" + key + ")";

	std::string sql = "SELECT " + sql::quote_literal(fk.constraint_name) + "::pg_catalog.name, ";
	sql += regclass_literal(fk.scan_relid) + ", " + regclass_literal(fk.parent_relid) + ", ";
	sql += fk.validated ? "true, " : "false, ";
	sql += "pg_catalog.count(*), pg_catalog.count(DISTINCT " + key + ") FILTER (WHERE " + key_complete(fk) + ")";
	if (with_oid)
		sql += ", " + std::to_string(fk.constraint_oid) + "::pg_catalog.oid";
	sql += orphan_from_where(fk);
	return sql;
}

} // namespace fkg
