/*
 * repair_query.h
 *    Builds the statements of fk_repair(): one batch of an action, and the
 *    dry run's queries.
 *
 * Pure C++ (no PostgreSQL calls), unit tested without a server.  Every
 * statement finds its rows with orphan_condition(), the predicate fk_orphans
 * uses, and the statement that changes rows evaluates it itself: a row whose
 * parent appeared before the statement's snapshot is left alone, and a row
 * updated concurrently is left for a later batch (its ctid no longer
 * matches).  Operators and functions are qualified; table names quoted.
 */
#ifndef FK_GUARD_REPAIR_QUERY_H
#define FK_GUARD_REPAIR_QUERY_H

#include "orphans/orphan_query.h"

#include <cstdint>
#include <string>

namespace fkg {

enum class RepairAction {
	kQuarantine,   /* move the orphans into fk_guard_quarantine (row as jsonb) */
	kDelete,       /* delete the orphans */
	kSetNull,      /* set every foreign-key column of the orphans to NULL */
	kInsertParents /* insert the missing keys into the referenced table */
};

/* The action named name ("quarantine", "delete", "set_null", "insert_parents"); false when unknown. */
bool parse_repair_action(const char *name, RepairAction *action);

/*
 * One batch: at most batch_size orphan rows (insert_parents: distinct missing
 * keys).  quarantine's statement returns one row, a jsonb array of
 * {"row": the deleted row as jsonb, "text": the row in its text form (record
 * output, which its input reads back exactly), "key": its key}; the others are plain
 * DELETE, UPDATE and INSERT statements, whose row count is the batch's.
 */
std::string repair_batch_statement(const ForeignKeySpec &fk, RepairAction action, int64_t batch_size);

/* The dry run per key: (key jsonb, rows bigint), most rows first. */
std::string repair_keys_query(const ForeignKeySpec &fk);

/* SELECT count(*) of the rows the action would change (insert_parents: the
 * parent rows it would insert, one per distinct complete key). */
std::string repair_count_query(const ForeignKeySpec &fk, RepairAction action);

} // namespace fkg

#endif /* FK_GUARD_REPAIR_QUERY_H */
