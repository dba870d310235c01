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
 * Whether the action's batches resume their scan where the previous batch
 * stopped (the ctid $1 of their statement): on a table that is not
 * partitioned (ctids of different partitions do not compare), for every
 * action but insert_parents.  Each batch then reads the table from where the
 * last one left it, and a repair ends with a pass from the start (resuming
 * from '(0,0)') that finds nothing, so rows a batch skipped (changed
 * concurrently, or returned out of order by a parallel scan) are not missed.
 */
bool repair_resumes(const ForeignKeySpec &fk, RepairAction action);

/*
 * One batch: at most batch_size orphan rows (insert_parents: distinct missing
 * keys).  insert_parents' statement is an INSERT, whose row count is the
 * batch's.  The others return one row: what they changed (quarantine: a jsonb
 * array of {"row": the deleted row as jsonb, "text": its text form (record
 * output, which the row type's input reads back exactly), "key": its key};
 * delete and set_null: the number of rows) and the last ctid the batch
 * reached (NULL when it found no orphan).  set_null sets the key columns
 * whose bit in not_null_keys (bit i: key column i is NOT NULL) is clear:
 * under MATCH SIMPLE one NULL column is enough for PostgreSQL to skip the
 * row, so a NOT NULL column (a tenant id, say) keeps its value; under MATCH
 * FULL every column is set (the caller refuses a NOT NULL one).
 */
std::string repair_batch_statement(const ForeignKeySpec &fk, RepairAction action, int64_t batch_size,
                                   uint32_t not_null_keys = 0);

/* The dry run per key: (key jsonb, rows bigint), most rows first. */
std::string repair_keys_query(const ForeignKeySpec &fk);

/* SELECT count(*) of the rows the action would change (insert_parents: the
 * parent rows it would insert, one per distinct complete key). */
std::string repair_count_query(const ForeignKeySpec &fk, RepairAction action);

} // namespace fkg

#endif /* FK_GUARD_REPAIR_QUERY_H */
