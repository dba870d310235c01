/*
 * repair_query.cpp
 *    SQL text for fk_repair() (see repair_query.h).  No PostgreSQL calls here.
 */
#include "repair/repair_query.h"

#include "common/sql_quote.h"

#include <algorithm>
#include <cstring>
#include <iterator>

namespace fkg {

bool
parse_repair_action(const char *name, RepairAction *action)
{
	static const struct {
		const char *name;
		RepairAction action;
	} kActions[] = {{"quarantine", RepairAction::kQuarantine},
	                {"delete", RepairAction::kDelete},
	                {"set_null", RepairAction::kSetNull},
	                {"insert_parents", RepairAction::kInsertParents}};
	const auto *found = std::find_if(std::begin(kActions), std::end(kActions),
	                                 [name](const auto &a) { return std::strcmp(name, a.name) == 0; });
	if (found == std::end(kActions))
		return false;
	*action = found->action;
	return true;
}

/* fk.a, fk.b (prefix "fk.") or "a", "b" (prefix empty): the key columns. */
static std::string
columns(const ForeignKeySpec &fk, bool referencing, const char *prefix)
{
	std::string sql;
	for (int i = 0; i < fk.nkeys; i++) {
		if (i > 0)
			sql += ", ";
		sql += prefix + sql::quote_ident(referencing ? fk.keys[i].fk_column : fk.keys[i].pk_column);
	}
	return sql;
}

/* The batch's rows, taken before the statement changes them: the first
 * batch_size orphans after the position ($1 tableoid, $2 ctid).  A table that
 * is not partitioned is read from the ctid on (a TID range scan, in ctid
 * order; $1 is its own OID); a partitioned one in (tableoid, ctid) order,
 * compared with the oid and tid operators that ORDER BY sorts by, so the
 * position a batch reached is after every row it took.  insert_parents takes
 * the key columns (k1, k2, ...) along, and only complete keys. */
static std::string
batch_cte(const ForeignKeySpec &fk, RepairAction action, int64_t batch_size)
{
	std::string sql = "WITH batch AS MATERIALIZED (SELECT fk.tableoid AS t, fk.ctid AS c";
	if (action == RepairAction::kInsertParents)
		for (int i = 0; i < fk.nkeys; i++)
			sql += ", fk." + sql::quote_ident(fk.keys[i].fk_column) + " AS k" + std::to_string(i + 1);
	sql += " FROM " + scanned_relation(fk) + " fk WHERE ";
	if (fk.scan_partitioned)
		sql += "(fk.tableoid OPERATOR(pg_catalog.>) $1 OR fk.tableoid OPERATOR(pg_catalog.=) $1 AND fk.ctid "
			   "OPERATOR(pg_catalog.>) $2) AND ";
	else
		sql += "fk.ctid OPERATOR(pg_catalog.>) $2 AND ";
	sql += orphan_condition(fk);
	if (action == RepairAction::kInsertParents)
		sql += " AND " + key_complete(fk);
	if (fk.scan_partitioned)
		sql += " ORDER BY fk.tableoid, fk.ctid";
	return sql + " LIMIT " + std::to_string(batch_size) + ")";
}

/* The rows of the batch that are still orphans when the statement reaches them. */
static std::string
batch_match(const ForeignKeySpec &fk)
{
	return " WHERE fk.tableoid OPERATOR(pg_catalog.=) b.t AND fk.ctid OPERATOR(pg_catalog.=) b.c AND " +
	       orphan_condition(fk);
}

/* The statement's result row: what it changed, the rows it found, and the
 * position the batch reached (NULLs when it found nothing). */
static std::string
batch_result(const std::string &changed, const std::string &extra = std::string())
{
	return " SELECT " + changed + ", (SELECT pg_catalog.count(*) FROM batch), r.t, r.c" + extra +
	       " FROM (SELECT) s LEFT JOIN (SELECT b.t, b.c FROM batch b ORDER BY b.t DESC, b.c DESC LIMIT 1) r ON true";
}

std::string
repair_batch_statement(const ForeignKeySpec &fk, RepairAction action, int64_t batch_size, uint32_t not_null_keys)
{
	const std::string child = scanned_relation(fk) + " fk";
	const std::string cte = batch_cte(fk, action, batch_size);
	switch (action) {
	case RepairAction::kDelete:
		return cte + ", changed AS (DELETE FROM " + child + " USING batch b" + batch_match(fk) + " RETURNING 1)" +
		       batch_result("(SELECT pg_catalog.count(*) FROM changed)");
	case RepairAction::kQuarantine:
		return cte + ", moved AS (DELETE FROM " + child + " USING batch b" + batch_match(fk) +
		       " RETURNING pg_catalog.to_jsonb(fk.*) AS row_data, fk.*::pg_catalog.text AS row_text, " +
		       key_object(fk) + " AS key)" +
		       batch_result("(SELECT pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object('row', m.row_data, 'text', "
		                    "m.row_text, 'key', m.key)) FROM moved m)");
	case RepairAction::kSetNull: {
		std::string sets;
		for (int i = 0; i < fk.nkeys; i++)
			if (fk.match_full || (not_null_keys & (1u << i)) == 0)
				sets += (sets.empty() ? "" : ", ") + sql::quote_ident(fk.keys[i].fk_column) + " = NULL";
		return cte + ", changed AS (UPDATE " + child + " SET " + sets + " FROM batch b" + batch_match(fk) +
		       " RETURNING 1)" + batch_result("(SELECT pg_catalog.count(*) FROM changed)");
	}
	case RepairAction::kInsertParents: {
		/* The INSERT casts each key as an INSERT into the referenced table
		 * does; keys equal under the referenced column's equality but
		 * distinct here (citext, say) meet its unique index: DO NOTHING. */
		std::string keys;
		for (int i = 0; i < fk.nkeys; i++)
			keys += (i > 0 ? ", b.k" : "b.k") + std::to_string(i + 1);
		return cte + ", inserted AS (INSERT INTO " +
		       sql::qualified_name(fk.parent_relation.schema, fk.parent_relation.name) + " (" + columns(fk, false, "") +
		       ") SELECT DISTINCT " + keys + " FROM batch b ON CONFLICT DO NOTHING RETURNING 1)" +
		       batch_result("(SELECT pg_catalog.count(*) FROM inserted)",
		                    ", (SELECT pg_catalog.array_agg(b.t) FROM batch b), (SELECT pg_catalog.array_agg(b.c) "
		                    "FROM batch b)");
	}
	}
	return {};
}

std::string
repair_progress_query(const ForeignKeySpec &fk)
{
	return "SELECT pg_catalog.count(*) FROM " + scanned_relation(fk) +
	       " fk WHERE fk.ctid OPERATOR(pg_catalog.=) ANY ($2) AND EXISTS (SELECT FROM ROWS FROM (pg_catalog.unnest($1), "
	       "pg_catalog.unnest($2)) u(t, c) WHERE u.t OPERATOR(pg_catalog.=) fk.tableoid AND u.c OPERATOR(pg_catalog.=) "
	       "fk.ctid) AND " +
	       orphan_condition(fk);
}

std::string
repair_keys_query(const ForeignKeySpec &fk)
{
	return "SELECT " + key_object(fk) + " AS key, pg_catalog.count(*) AS rows FROM " + scanned_relation(fk) +
	       " fk WHERE " + orphan_condition(fk) + " GROUP BY 1 ORDER BY 2 DESC, 1";
}

std::string
repair_count_query(const ForeignKeySpec &fk, RepairAction action)
{
	const std::string from = " FROM " + scanned_relation(fk) + " fk WHERE " + orphan_condition(fk);
	if (action == RepairAction::kInsertParents)
		return "SELECT pg_catalog.count(*) FROM (SELECT DISTINCT " + columns(fk, true, "fk.") + from + " AND " +
		       key_complete(fk) + ") d";
	return "SELECT pg_catalog.count(*)" + from;
}

} // namespace fkg
