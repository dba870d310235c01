/*
 * one_pass.h
 *    The one-pass orphan engine: every foreign key of one referencing table
 *    judged in a single scan of it (issue 12).
 *
 * For each foreign key it takes, the engine reads the referenced table once
 * into an in-memory key set (key_set.h) under the statement's snapshot, then
 * reads the referencing table once, judging every such key on each row as
 * RI_FKey_check does: the match type's null rules on the columns' own null
 * flags, and the constraint's own equality (conpfeqop) under the collation
 * the planner's path compares with, hashed with the two hash functions of a
 * hash operator family that holds that operator (PostgreSQL's guarantee that
 * they agree is what hash joins rely on).  int2/int4/int8, text under a
 * deterministic collation and uuid, and composites of them, compare as bytes
 * without fmgr calls; any other hashable equality goes through fmgr.
 *
 * A partitioned table, on either side, is read leaf by leaf, each leaf's key
 * columns found by name; the leaves of a partitioned referencing table are
 * scanned once for all its keys, in OID order (the planner's path orders its
 * rows by tableoid, then ctid).
 *
 * A key the engine does not take falls back to the planner's path
 * (orphan_query.cpp), which is always correct: see choose_engine().
 */
#ifndef FK_GUARD_ONE_PASS_H
#define FK_GUARD_ONE_PASS_H

#include "orphans/fk_catalog.h"
#include "orphans/orphans.h"

extern "C" {
#include "postgres.h"
#include "storage/itemptr.h"
}

namespace fkg {

enum class Engine { kOnePass, kPlanner };

/* Which path checks a foreign key, and why (a constant string). */
struct EngineChoice {
	Engine engine;
	const char *reason;
};

/*
 * The path fk takes, from the catalogs and the setting alone (no data is
 * read): what fk_orphan_plan() shows.  fk must be checkable and its tables
 * locked.  The keys of one table share one memory budget: *estimated (start
 * at 0 for each table, then pass it to each of its keys in turn) is what
 * auto mode estimates the keys given the pass so far take.  The run may
 * still fall back when the keys turn out not to fit in memory, or when the
 * pass raises an error.
 */
EngineChoice choose_engine(const DeclaredForeignKey &fk, Report report, double *estimated);

/* What the pass found for one foreign key.  Trivially destructible. */
struct OnePassResult {
	bool done; /* false: not judged by the pass (reason says why); use the planner's path */
	const char *reason;
	int64 orphan_rows; /* summaries */
	int64 missing_keys;
	ItemPointerData *ctids; /* rows: the orphans' ctids, in scan order, at most limit */
	int64 nctids;
	/* rows: the tables scanned, in tableoid order (the referencing table, or
	 * its leaf partitions); ctids[leaf_ends[l - 1] .. leaf_ends[l]) are
	 * leaves[l]'s, ascending (leaf_ends[-1] taken as 0). */
	const Oid *leaves;
	const int64 *leaf_ends;
	int nleaves;
};

/*
 * Judges keys[which[0..n)], foreign keys sharing one referencing table that
 * choose_engine() gave the one pass, in one scan of it (of each of its
 * leaves, when it is partitioned), as
 * that table's owner in a security-restricted operation.  results[i] is
 * which[i]'s; its memory (and the key sets) live in context.  limit < 0: no
 * limit (rows only).  Errors propagate: the caller isolates the pass.
 */
void run_one_pass(const DeclaredForeignKey *keys, const int *which, int n, Report report, int64 limit,
                  MemoryContext context, OnePassResult *results);

} // namespace fkg

#endif /* FK_GUARD_ONE_PASS_H */
