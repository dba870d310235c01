/*
 * orphan_query.cpp
 *    SQL text for the orphan scans (see orphan_query.h).  No PostgreSQL calls here.
 */
#include "orphans/orphan_query.h"

#include "common/sql_quote.h"

#include <vector>

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

std::string
key_complete(const ForeignKeySpec &fk)
{
	return key_row(fk) + " IS NOT NULL";
}

/* A relation as a query reads it: ONLY the table, or with its partitions. */
static std::string
relation_ref(const QualifiedName &n, bool with_partitions)
{
	return (with_partitions ? "" : "ONLY ") + qualified(n);
}

std::string
scanned_relation(const ForeignKeySpec &fk)
{
	return relation_ref(fk.scan_relation, fk.scan_partitioned);
}

/* Whether RI_FKey_check checks the row fk: MATCH SIMPLE checks rows whose
 * key has no null; MATCH FULL checks every row with a non-null column (and
 * partial nulls never find a partner). */
static std::string
checked_condition(const ForeignKeySpec &fk)
{
	return fk.match_full ? "NOT (" + key_row(fk) + " IS NULL)" : key_complete(fk);
}

/* FROM ... WHERE ...: the rows of fk.scan_relation that RI_FKey_check checks. */
static std::string
checked_rows(const ForeignKeySpec &fk)
{
	return " FROM " + scanned_relation(fk) + " fk WHERE " + checked_condition(fk);
}

/* Whether the row pk of the referenced table (or of a stand-in for it) is the
 * partner of the row fk: equal on every key column under the constraint's
 * own operator, with the casts and collation ri_GenerateQual adds. */
static std::string
partner_condition(const ForeignKeySpec &fk, const std::string &pk)
{
	std::string sql;
	for (int i = 0; i < fk.nkeys; i++) {
		const KeyColumnSpec &k = fk.keys[i];
		if (i > 0)
			sql += " AND ";
		sql += pk + "." + sql::quote_ident(k.pk_column) + cast_suffix(k.pk_cast);
		sql += " OPERATOR(" + sql::quote_ident(k.eq_operator.schema) + "." + k.eq_operator.name + ") ";
		sql += "fk." + sql::quote_ident(k.fk_column) + cast_suffix(k.fk_cast);
		if (!k.collation.empty())
			sql += " COLLATE " + qualified(k.collation);
	}
	return sql;
}

/* " AND NOT EXISTS (...)": no row of parent (read as relation_ref reads it)
 * is the partner, looked for as RI does (SELECT 1 FROM pk WHERE pk.a = fk.a
 * ...): an anti join, whose "no partner" cannot be mistaken for a partner
 * whose key reads as NULL. */
static std::string
no_partner_in(const ForeignKeySpec &fk, const std::string &parent)
{
	return " AND NOT EXISTS (SELECT FROM " + parent + " pk WHERE " + partner_condition(fk, "pk") + ")";
}

/* The rows of fk.scan_relation that RI_FKey_check would reject. */
std::string
orphan_condition(const ForeignKeySpec &fk)
{
	return checked_condition(fk) + no_partner_in(fk, relation_ref(fk.parent_relation, fk.parent_partitioned));
}

/* FROM ... WHERE ...: those rows. */
static std::string
orphan_from_where(const ForeignKeySpec &fk)
{
	return " FROM " + scanned_relation(fk) + " fk WHERE " + orphan_condition(fk);
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

std::string
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

/* The Citus shard a row of a Citus table is in: Citus runs the query on the
 * node holding each shard, where fk.tableoid is the shard, named
 * <table>_<shard id> (the shard's name read there, as text). */
static std::string
citus_shard_id()
{
	return "pg_catalog.substring(fk.tableoid::pg_catalog.regclass::pg_catalog.text, '_([0-9]+)\"?$')::pg_catalog.int8";
}

/* SELECT list of fk_orphans' columns over the referencing table aliased fk.
 * A Citus table's rows are shown under the table (fk.tableoid is a shard's,
 * and an OID of another node). */
static std::string
orphan_columns(const ForeignKeySpec &fk, bool located = false)
{
	std::string sql = "SELECT " + sql::quote_literal(fk.constraint_name) + "::pg_catalog.name, ";
	sql += fk.citus_child ? regclass_literal(fk.scan_relid) : std::string("fk.tableoid::pg_catalog.regclass");
	sql += ", " + regclass_literal(fk.parent_relid) + ", ";
	sql += name_array(fk, true) + ", " + name_array(fk, false) + ", ";
	sql += key_object(fk) + ", fk.ctid";
	if (located)
		sql += fk.citus_child ? ", " + citus_shard_id() : std::string(", NULL::pg_catalog.int8");
	return sql;
}

std::string
orphan_rows_query(const ForeignKeySpec &fk, int64_t limit, bool located)
{
	std::string sql = orphan_columns(fk, located);
	sql += orphan_from_where(fk);
	sql += fk.citus_child ? " ORDER BY " + citus_shard_id() + ", fk.ctid"
	                      : std::string(" ORDER BY fk.tableoid, fk.ctid");
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

/* The key as ri_ReportViolation's DETAIL writes it: column names as they
 * are, values through their output function (format's %s), NULL as null. */
static std::string
detail_key(const ForeignKeySpec &fk)
{
	std::string names;
	for (int i = 0; i < fk.nkeys; i++)
		names += (i > 0 ? ", " : "") + std::string(fk.keys[i].fk_column);
	std::string key = "pg_catalog.concat(" + sql::quote_literal(("(" + names + ")=(").c_str());
	for (int i = 0; i < fk.nkeys; i++) {
		const std::string column = "fk." + sql::quote_ident(fk.keys[i].fk_column);
		key += i > 0 ? ", ', ', " : ", ";
		key += "CASE WHEN pg_catalog.num_nulls(" + column + ") OPERATOR(pg_catalog.=) 1 THEN 'null' ";
		key += "ELSE pg_catalog.format('%s', " + column + ") END";
	}
	return key + ", ')')";
}

/* The judged columns every branch of the precheck query returns: the key's
 * position (for the order), constraint name, referenced table, staged ctid
 * and key. */
static std::string
precheck_columns(int position, const ForeignKeySpec &fk, const std::string &ctid)
{
	return std::to_string(position) + ", " + sql::quote_literal(fk.constraint_name) + "::pg_catalog.name, " +
	       regclass_literal(fk.parent_relid) + ", fk." + ctid + ", " + detail_key(fk);
}

std::string
precheck_rows_query(const PrecheckKey *keys, int nkeys, const std::string &with, const char *staged,
                    const char *ctid_column)
{
	const std::string ctid = sql::quote_ident(ctid_column);
	const std::string from = " FROM " + sql::quote_ident(staged) + " fk";
	std::vector<std::string> branches;

	/* The keys without stand-ins, in one pass over the staged rows: each
	 * referenced table left-joined once on the orphan queries' partner
	 * condition (a partner is unique: the referenced columns carry a unique
	 * index, whose equality the constraint's operator is), then, for the
	 * rows RI would reject for some key (a filter the planner applies below
	 * the lateral join), one candidate row per key. */
	std::string joins, any_rejected, candidates;
	for (int k = 0; k < nkeys; k++) {
		const ForeignKeySpec &fk = *keys[k].fk;
		if (keys[k].nstand_ins > 0)
			continue;
		const std::string pk = "pk" + std::to_string(k + 1);
		joins += " LEFT JOIN " + relation_ref(fk.parent_relation, fk.parent_partitioned) + " " + pk;
		joins += " ON " + partner_condition(fk, pk);
		/* a joined row has a ctid (partitions too); a null-extended one has none */
		const std::string rejected = "(" + checked_condition(fk) + " AND " + pk + ".ctid IS NULL)";
		any_rejected += (any_rejected.empty() ? "" : " OR ") + rejected;
		candidates += candidates.empty() ? "(" : ", (";
		candidates += std::to_string(k + 1) + ", " + sql::quote_literal(fk.constraint_name) + "::pg_catalog.name, ";
		candidates += regclass_literal(fk.parent_relid) + ", " + rejected + ", ";
		candidates += "CASE WHEN " + rejected + " THEN " + detail_key(fk) + " END)";
	}
	if (!candidates.empty())
		branches.push_back("SELECT v.n, v.constraint_name, v.parent_table, fk." + ctid + ", v.key" + from + joins +
		                   " CROSS JOIN LATERAL (VALUES " + candidates +
		                   ") v(n, constraint_name, parent_table, rejected, key) WHERE (" + any_rejected +
		                   ") AND v.rejected");

	/* A key with stand-ins: its own anti joins (the stand-ins may hold a key
	 * more than once, so they are not joined). */
	for (int k = 0; k < nkeys; k++) {
		const ForeignKeySpec &fk = *keys[k].fk;
		if (keys[k].nstand_ins == 0)
			continue;
		std::string branch = "SELECT " + precheck_columns(k + 1, fk, ctid) + from + " WHERE " + checked_condition(fk);
		branch += no_partner_in(fk, relation_ref(fk.parent_relation, fk.parent_partitioned));
		for (int i = 0; i < keys[k].nstand_ins; i++)
			branch += no_partner_in(fk, sql::quote_ident(keys[k].stand_ins[i]));
		branches.push_back(branch);
	}

	std::string sql = with + (with.empty() ? "" : " ");
	sql += "SELECT j.constraint_name, j.parent_table, j." + ctid + ", j.key FROM (";
	for (size_t b = 0; b < branches.size(); b++)
		sql += (b > 0 ? " UNION ALL " : "") + branches[b];
	sql += ") j(n, constraint_name, parent_table, " + ctid + ", key) ORDER BY j.n, j." + ctid;
	return sql;
}

std::string
precheck_checked_rows_exist_query(const ForeignKeySpec &fk, const std::string &with, const char *staged)
{
	return with + (with.empty() ? "" : " ") + "SELECT EXISTS (SELECT FROM " + sql::quote_ident(staged) + " fk WHERE " +
	       checked_condition(fk) + ")";
}

} // namespace fkg
