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
 * One batch: the first batch_size orphan rows (insert_parents: with a
 * complete key) after the position ($1 tableoid, $2 ctid) the previous batch
 * reached.  A repair runs passes: a pass starts at (0, '(0,0)') and ends with
 * a batch that finds nothing; another follows a pass that made progress, so
 * rows a batch skipped (changed concurrently, or kept by a trigger) are not
 * missed, and a pass that made none ends the repair.  On a table that is not
 * partitioned the batch reads on from the ctid ($1 is unused); on a
 * partitioned one in (tableoid, ctid) order, so that rows no batch can change
 * at the start of the table do not hide the others.
 *
 * Each statement returns one row: what it changed (quarantine: a jsonb array
 * of {"row": the deleted row as jsonb, "text": its text form (record output,
 * which the row type's input reads back exactly), "key": its key}; delete and
 * set_null: the number of rows; insert_parents: the parent rows inserted),
 * the number of orphans the batch found, and the position it reached (tableoid,
 * ctid; NULLs when it found nothing); insert_parents adds the batch's rows
 * (oid[], tid[]) for repair_progress_query().  set_null sets the key columns
 * whose bit in not_null_keys (bit i: key column i is NOT NULL) is clear:
 * under MATCH SIMPLE one NULL column is enough for PostgreSQL to skip the
 * row, so a NOT NULL column (a tenant id, say) keeps its value; under MATCH
 * FULL every column is set (the caller refuses a NOT NULL one).
 */
std::string repair_batch_statement(const ForeignKeySpec &fk, RepairAction action, int64_t batch_size,
                                   uint32_t not_null_keys = 0);

/* insert_parents' progress: how many of a batch's rows ($1 oid[], $2 tid[])
 * are still orphans once it inserted their parents (a BEFORE INSERT trigger
 * on the referenced table may have changed or dropped the keys). */
std::string repair_progress_query(const ForeignKeySpec &fk);

/* The dry run per key: (key jsonb, rows bigint), most rows first. */
std::string repair_keys_query(const ForeignKeySpec &fk);

/* SELECT count(*) of the rows the action would change (insert_parents: the
 * parent rows it would insert, one per distinct complete key). */
std::string repair_count_query(const ForeignKeySpec &fk, RepairAction action);

} // namespace fkg

#endif /* FK_GUARD_REPAIR_QUERY_H */
