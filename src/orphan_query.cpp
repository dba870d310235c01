/*
 * orphan_query.cpp
 *    SQL text for the orphan scans (see orphan_query.h).  No PostgreSQL calls here.
 */
#include "orphan_query.h"

namespace fkg {

std::string
quote_identifier(const char *name)
{
	std::string out = "\"";
	for (const char *p = name; *p; p++) {
		if (*p == '"')
			out += '"';
		out += *p;
	}
	out += '"';
	return out;
}

std::string
quote_literal(const char *text)
{
	bool has_backslash = false;
	std::string body;
	for (const char *p = text; *p; p++) {
		if (*p == '\'' || *p == '\\')
			body += *p;
		has_backslash |= (*p == '\\');
		body += *p;
	}
	return (has_backslash ? "E'" : "'") + body + "'";
}

namespace {

std::string
qualified(const QualifiedName &n)
{
	return quote_identifier(n.schema) + "." + quote_identifier(n.name);
}

std::string
cast_suffix(const QualifiedName &type)
{
	return type.empty() ? std::string() : "::" + qualified(type);
}

std::string
regclass_literal(unsigned relid)
{
	return std::to_string(relid) + "::pg_catalog.oid::pg_catalog.regclass";
}

/* The alias of the i-th foreign key's referenced table. */
std::string
parent_alias(int i)
{
	return "p" + std::to_string(i + 1);
}

std::string
fk_column(const char *name)
{
	return "fk." + quote_identifier(name);
}

/* " LEFT JOIN parent pN ON (...)", as RI_Initial_Check writes the join. */
std::string
parent_join(const ForeignKeySpec &fk, int i)
{
	const std::string alias = parent_alias(i);
	std::string sql = " LEFT JOIN ";
	sql += fk.parent_partitioned ? "" : "ONLY ";
	sql += qualified(fk.parent_relation) + " " + alias + " ON (";
	for (int k = 0; k < fk.nkeys; k++) {
		const KeyColumnSpec &key = fk.keys[k];
		if (k > 0)
			sql += " AND ";
		sql += alias + "." + quote_identifier(key.pk_column) + cast_suffix(key.pk_cast);
		sql += " OPERATOR(" + quote_identifier(key.eq_operator.schema) + "." + key.eq_operator.name + ") ";
		sql += fk_column(key.fk_column) + cast_suffix(key.fk_cast);
		if (!key.collation.empty())
			sql += " COLLATE " + qualified(key.collation);
	}
	return sql + ")";
}

/* True for the rows of the i-th foreign key that RI would reject. */
std::string
orphan_condition(const ForeignKeySpec &fk, int i)
{
	/* Equality is strict, so one null pk column is enough to detect "no partner". */
	std::string sql = "(" + parent_alias(i) + "." + quote_identifier(fk.keys[0].pk_column) + " IS NULL AND (";
	/* MATCH SIMPLE checks rows whose key has no null; MATCH FULL checks every
	 * row with a non-null column, and partial nulls never find a partner. */
	const char *separator = fk.match_full ? " OR " : " AND ";
	for (int k = 0; k < fk.nkeys; k++) {
		if (k > 0)
			sql += separator;
		sql += fk_column(fk.keys[k].fk_column) + " IS NOT NULL";
	}
	return sql + "))";
}

/* FROM ... WHERE ...: the rows of the shared scan relation that are orphans of any key. */
std::string
orphan_from_where(const ForeignKeySpec *fks, int n)
{
	std::string sql = " FROM ";
	sql += fks[0].scan_partitioned ? "" : "ONLY ";
	sql += qualified(fks[0].scan_relation) + " fk";
	for (int i = 0; i < n; i++)
		sql += parent_join(fks[i], i);
	sql += " WHERE ";
	for (int i = 0; i < n; i++)
		sql += (i > 0 ? " OR " : "") + orphan_condition(fks[i], i);
	return sql;
}

std::string
name_array(const ForeignKeySpec &fk, bool referencing)
{
	std::string sql = "ARRAY[";
	for (int k = 0; k < fk.nkeys; k++) {
		if (k > 0)
			sql += ", ";
		sql += quote_literal(referencing ? fk.keys[k].fk_column : fk.keys[k].pk_column);
	}
	return sql + "]::pg_catalog.name[]";
}

std::string
key_object(const ForeignKeySpec &fk)
{
	std::string sql = "pg_catalog.jsonb_build_object(";
	for (int k = 0; k < fk.nkeys; k++) {
		if (k > 0)
			sql += ", ";
		sql += quote_literal(fk.keys[k].fk_column) + ", " + fk_column(fk.keys[k].fk_column);
	}
	return sql + ")";
}

std::string
constraint_name(const ForeignKeySpec &fk)
{
	return quote_literal(fk.constraint_name) + "::pg_catalog.name";
}

} // namespace

/*
 * The joined rows j carry, for each key i, whether the row is its orphan (oI)
 * and its key as jsonb (kI); a LATERAL VALUES list then turns each row into one
 * output row per key it is an orphan of.
 */
std::string
orphan_rows_query(const ForeignKeySpec *fks, int n, int64_t limit)
{
	std::string joined = "SELECT fk.tableoid, fk.ctid";
	for (int i = 0; i < n; i++) {
		const std::string id = std::to_string(i + 1);
		joined += ", " + orphan_condition(fks[i], i) + " AS o" + id + ", " + key_object(fks[i]) + " AS k" + id;
	}
	joined += orphan_from_where(fks, n);

	std::string per_key = "SELECT v.n, v.constraint_name, j.tableoid, j.ctid, v.parent_table, v.fk_columns, "
	                      "v.parent_columns, v.key";
	if (limit >= 0)
		per_key += ", pg_catalog.row_number() OVER (PARTITION BY v.n ORDER BY j.tableoid, j.ctid) AS rank";
	per_key += " FROM (" + joined + ") j CROSS JOIN LATERAL (VALUES ";
	for (int i = 0; i < n; i++) {
		const std::string id = std::to_string(i + 1);
		per_key += (i > 0 ? ", (" : "(") + id + ", j.o" + id + ", " + constraint_name(fks[i]) + ", " +
		           regclass_literal(fks[i].parent_relid) + ", " + name_array(fks[i], true) + ", " +
		           name_array(fks[i], false) + ", j.k" + id + ")";
	}
	per_key += ") AS v(n, orphan, constraint_name, parent_table, fk_columns, parent_columns, key) WHERE v.orphan";

	std::string sql = "SELECT r.constraint_name, r.tableoid::pg_catalog.regclass, r.parent_table, r.fk_columns, "
	                  "r.parent_columns, r.key, r.ctid FROM (" + per_key + ") r";
	if (limit >= 0)
		sql += " WHERE r.rank <= " + std::to_string(limit);
	return sql + " ORDER BY r.n, r.tableoid, r.ctid";
}

/*
 * The joined rows j carry, for each key i, whether the row is its orphan (oI),
 * its key (dI, a row value for composite keys) and whether that key is
 * complete (cI); one aggregate row then counts them all, and a LATERAL VALUES
 * list turns it into one row per key.
 */
std::string
orphan_summary_query(const ForeignKeySpec *fks, int n)
{
	std::string joined = "SELECT ";
	std::string counts = "SELECT ";
	for (int i = 0; i < n; i++) {
		const ForeignKeySpec &fk = fks[i];
		const std::string id = std::to_string(i + 1);
		std::string key, complete;
		for (int k = 0; k < fk.nkeys; k++) {
			key += (k > 0 ? ", " : "") + fk_column(fk.keys[k].fk_column);
			complete += (k > 0 ? " AND " : "") + fk_column(fk.keys[k].fk_column) + " IS NOT NULL";
		}
		if (fk.nkeys > 1)
			key = "ROW(" + key + ")";
		joined += (i > 0 ? ", " : "") + orphan_condition(fk, i) + " AS o" + id + ", " + key + " AS d" + id + ", (" +
		          complete + ") AS c" + id;
		/* Distinct missing keys are complete keys: MATCH FULL's partial-null
		 * rows are orphans but name no parent key. */
		counts += (i > 0 ? ", " : "") + ("pg_catalog.count(*) FILTER (WHERE j.o" + id + ") AS r" + id) +
		          ", pg_catalog.count(DISTINCT j.d" + id + ") FILTER (WHERE j.o" + id + " AND j.c" + id + ") AS m" + id;
	}
	joined += orphan_from_where(fks, n);
	counts += " FROM (" + joined + ") j";

	std::string sql = "SELECT v.constraint_name, " + regclass_literal(fks[0].scan_relid) +
	                  ", v.parent_table, v.validated, v.orphan_rows, v.missing_keys FROM (" + counts +
	                  ") a CROSS JOIN LATERAL (VALUES ";
	for (int i = 0; i < n; i++) {
		const std::string id = std::to_string(i + 1);
		sql += (i > 0 ? ", (" : "(") + id + ", " + constraint_name(fks[i]) + ", " +
		       regclass_literal(fks[i].parent_relid) + ", " + (fks[i].validated ? "true" : "false") + ", a.r" + id +
		       ", a.m" + id + ")";
	}
	return sql + ") AS v(n, constraint_name, parent_table, validated, orphan_rows, missing_keys) ORDER BY v.n";
}

} // namespace fkg
