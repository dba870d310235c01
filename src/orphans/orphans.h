/*
 * orphans.h
 *    The orphan checks behind fk_orphans(), fk_orphan_summary() and fk_audit_run().
 */
#ifndef FK_GUARD_ORPHANS_H
#define FK_GUARD_ORPHANS_H

extern "C" {
#include "postgres.h"
#include "access/tupdesc.h"
#include "utils/tuplestore.h"
}

namespace fkg {

/* What a check reports: fk_orphans' rows, fk_orphans_located's (the same and
 * the Citus shard; always the planner's path), fk_orphan_summary's row, or that
 * row followed by the declared constraint's OID (for fk_audit_run's results). */
enum class Report { kRows, kLocatedRows, kSummary, kAuditSummary };

/* Whether report lists rows (rather than a summary row per foreign key). */
inline bool
lists_rows(Report report)
{
	return report == Report::kRows || report == Report::kLocatedRows;
}

/*
 * Checks the declared foreign keys whose referencing table is target (all of
 * them when InvalidOid) and appends the report's rows to out, whose row type
 * is desc.  limit < 0 means no limit (rows only).
 *
 * strict: a foreign key the caller may not check raises its error, and so
 * does a failing check.  Otherwise such keys are skipped and named in one
 * NOTICE, and a key whose check fails (a value PostgreSQL itself cannot
 * compare, say) gets a WARNING, a summary row with NULL counts, and no rows,
 * while the others complete.
 *
 * Must be called while connected to SPI.
 */
void check_foreign_keys(Oid target, Report report, int64 limit, bool strict, Tuplestorestate *out, TupleDesc desc);

/*
 * Appends one row per declared foreign key of target (constraint_name,
 * child_table, engine, reason): the path fk_orphans(target) would check it
 * with.  Refuses, as fk_orphans(target) does, a key the caller may not check.
 * Must be called while connected to SPI.
 */
void plan_foreign_keys(Oid target, Tuplestorestate *out, TupleDesc desc);

} // namespace fkg

#endif /* FK_GUARD_ORPHANS_H */
