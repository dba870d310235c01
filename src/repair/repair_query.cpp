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

bool
repair_resumes(const ForeignKeySpec &fk, RepairAction action)
{
	return action != RepairAction::kInsertParents && !fk.scan_partitioned;
}

/* The batch's rows, by partition and ctid, taken before the statement changes
 * them: when the scan resumes, those after the ctid $1. */
static std::string
batch_cte(const ForeignKeySpec &fk, RepairAction action, int64_t batch_size)
{
	std::string sql = "WITH batch AS MATERIALIZED (SELECT fk.tableoid AS t, fk.ctid AS c FROM " + scanned_relation(fk) +
	                  " fk WHERE ";
	if (repair_resumes(fk, action))
		sql += "fk.ctid OPERATOR(pg_catalog.>) $1 AND ";
	return sql + orphan_condition(fk) + " LIMIT " + std::to_string(batch_size) + ")";
}

/* The rows of the batch that are still orphans when the statement reaches them. */
static std::string
batch_match(const ForeignKeySpec &fk)
{
	return " WHERE fk.tableoid OPERATOR(pg_catalog.=) b.t AND fk.ctid OPERATOR(pg_catalog.=) b.c AND " +
	       orphan_condition(fk);
}

/* The last ctid the batch reached (NULL when it found nothing). */
static const char *const kReached = "(SELECT pg_catalog.max(b.c) FROM batch b)";

std::string
repair_batch_statement(const ForeignKeySpec &fk, RepairAction action, int64_t batch_size, uint32_t not_null_keys)
{
	const std::string child = scanned_relation(fk) + " fk";
	switch (action) {
	case RepairAction::kDelete:
		return batch_cte(fk, action, batch_size) + ", changed AS (DELETE FROM " + child + " USING batch b" +
		       batch_match(fk) + " RETURNING 1) SELECT (SELECT pg_catalog.count(*) FROM changed), " + kReached;
	case RepairAction::kQuarantine:
		return batch_cte(fk, action, batch_size) + ", moved AS (DELETE FROM " + child + " USING batch b" +
		       batch_match(fk) +
		       " RETURNING pg_catalog.to_jsonb(fk.*) AS row_data, fk.*::pg_catalog.text AS row_text, " +
		       key_object(fk) +
		       " AS key) SELECT pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object('row', m.row_data, 'text', "
		       "m.row_text, 'key', m.key)), " +
		       kReached + " FROM moved m";
	case RepairAction::kSetNull: {
		std::string sets;
		for (int i = 0; i < fk.nkeys; i++)
			if (fk.match_full || (not_null_keys & (1u << i)) == 0)
				sets += (sets.empty() ? "" : ", ") + sql::quote_ident(fk.keys[i].fk_column) + " = NULL";
		return batch_cte(fk, action, batch_size) + ", changed AS (UPDATE " + child + " SET " + sets + " FROM batch b" +
		       batch_match(fk) + " RETURNING 1) SELECT (SELECT pg_catalog.count(*) FROM changed), " + kReached;
	}
	case RepairAction::kInsertParents:
		/* The INSERT casts each key as an INSERT into the referenced table
		 * does; keys equal under the referenced column's equality but
		 * distinct here (citext, say) meet its unique index: DO NOTHING. */
		return "INSERT INTO " + sql::qualified_name(fk.parent_relation.schema, fk.parent_relation.name) + " (" +
		       columns(fk, false, "") + ") SELECT DISTINCT " + columns(fk, true, "fk.") + " FROM " + child + " WHERE " +
		       orphan_condition(fk) + " AND " + key_complete(fk) + " LIMIT " + std::to_string(batch_size) +
		       " ON CONFLICT DO NOTHING";
	}
	return {};
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
