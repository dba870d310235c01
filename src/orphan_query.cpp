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

static std::string
qualified(const QualifiedName &n)
{
	return quote_identifier(n.schema) + "." + quote_identifier(n.name);
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

/* FROM ... WHERE ...: the rows of fk.scan_relation that RI would reject. */
static std::string
orphan_from_where(const ForeignKeySpec &fk)
{
	std::string sql = " FROM ";
	sql += fk.scan_partitioned ? "" : "ONLY ";
	sql += qualified(fk.scan_relation) + " fk LEFT JOIN ";
	sql += fk.parent_partitioned ? "" : "ONLY ";
	sql += qualified(fk.parent_relation) + " pk ON (";
	for (int i = 0; i < fk.nkeys; i++) {
		const KeyColumnSpec &k = fk.keys[i];
		if (i > 0)
			sql += " AND ";
		sql += "pk." + quote_identifier(k.pk_column) + cast_suffix(k.pk_cast);
		sql += " OPERATOR(" + quote_identifier(k.eq_operator.schema) + "." + k.eq_operator.name + ") ";
		sql += "fk." + quote_identifier(k.fk_column) + cast_suffix(k.fk_cast);
		if (!k.collation.empty())
			sql += " COLLATE " + qualified(k.collation);
	}
	/* Equality is strict, so one null pk column is enough to detect "no partner". */
	sql += ") WHERE pk." + quote_identifier(fk.keys[0].pk_column) + " IS NULL AND (";
	/* MATCH SIMPLE checks rows whose key has no null; MATCH FULL checks every
	 * row with a non-null column, and partial nulls never find a partner. */
	const char *separator = fk.match_full ? " OR " : " AND ";
	for (int i = 0; i < fk.nkeys; i++) {
		if (i > 0)
			sql += separator;
		sql += "fk." + quote_identifier(fk.keys[i].fk_column) + " IS NOT NULL";
	}
	sql += ")";
	return sql;
}

static std::string
name_array(const ForeignKeySpec &fk, bool referencing)
{
	std::string sql = "ARRAY[";
	for (int i = 0; i < fk.nkeys; i++) {
		if (i > 0)
			sql += ", ";
		sql += quote_literal(referencing ? fk.keys[i].fk_column : fk.keys[i].pk_column);
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
		sql += quote_literal(fk.keys[i].fk_column) + ", fk." + quote_identifier(fk.keys[i].fk_column);
	}
	return sql + ")";
}

std::string
orphan_rows_query(const ForeignKeySpec &fk, int64_t limit)
{
	std::string sql = "SELECT " + quote_literal(fk.constraint_name) + "::pg_catalog.name, ";
	sql += "fk.tableoid::pg_catalog.regclass, " + regclass_literal(fk.parent_relid) + ", ";
	sql += name_array(fk, true) + ", " + name_array(fk, false) + ", ";
	sql += key_object(fk) + ", fk.ctid";
	sql += orphan_from_where(fk);
	sql += " ORDER BY fk.tableoid, fk.ctid";
	if (limit >= 0)
		sql += " LIMIT " + std::to_string(limit);
	return sql;
}

std::string
orphan_summary_query(const ForeignKeySpec &fk)
{
	/* Distinct missing keys are complete keys: MATCH FULL's partial-null rows
	 * are orphans but name no parent key. */
	std::string key, complete;
	for (int i = 0; i < fk.nkeys; i++) {
		const std::string column = "fk." + quote_identifier(fk.keys[i].fk_column);
		key += (i > 0 ? ", " : "") + column;
		complete += (i > 0 ? " AND " : "") + column + " IS NOT NULL";
	}
	if (fk.nkeys > 1)
		key = "ROW(" + key + ")";

	std::string sql = "SELECT " + quote_literal(fk.constraint_name) + "::pg_catalog.name, ";
	sql += regclass_literal(fk.scan_relid) + ", " + regclass_literal(fk.parent_relid) + ", ";
	sql += fk.validated ? "true, " : "false, ";
	sql += "pg_catalog.count(*), pg_catalog.count(DISTINCT " + key + ") FILTER (WHERE " + complete + ")";
	sql += orphan_from_where(fk);
	return sql;
}

} // namespace fkg
