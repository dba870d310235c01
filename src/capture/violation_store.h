/*
 * violation_store.h
 *    Shared memory for violation capture: a ring of recent violations and
 *    per-constraint counters (see violation_store.cpp for the locking protocol).
 */
#ifndef FK_GUARD_VIOLATION_STORE_H
#define FK_GUARD_VIOLATION_STORE_H

#include "capture/violation_event.h"

extern "C" {
#include "postgres.h"
#include "funcapi.h"
}

namespace fkg {

/*
 * Text budget of one ring slot: the shared text arena (constraint and table
 * names, key, query, application, database and user names) holds
 * fk_guard.max_violations times this many bytes.  With the slot header, one
 * slot of fk_guard.max_violations costs about 550 bytes of shared memory
 * (README.md, "Violation capture").
 */
constexpr int kTextBytesPerViolation = 512;

/* Distinct counters, one per declared foreign key (per constraint named by
 * PostgreSQL's errors when it could not be described); more land in one
 * overflow counter. */
constexpr long kMaxCounters = 4096;

/* _PG_init, when preloaded: installs the hooks that reserve and attach shared memory. */
void violation_store_install_hooks();
/* True when the shared memory exists (fk_guard was preloaded). */
bool violation_store_attached();

/* Records one violation; returns its constraint's violations in the last minute.
 * Takes the store's LWLock: call only where LWLocks may be taken. */
int64 violation_store_record(const ViolationEvent *event);
/* Counts violations of event's constraint without listing them in the ring
 * (those past a backend's pending budget).  Same locking as above. */
void violation_store_count(const ViolationEvent *event, int64 violations, int64 handled);

void violation_store_read_ring(ReturnSetInfo *rsinfo);
void violation_store_read_counters(ReturnSetInfo *rsinfo);
void violation_store_read_constraint_counts(ReturnSetInfo *rsinfo);
void violation_store_reset();

} // namespace fkg

#endif /* FK_GUARD_VIOLATION_STORE_H */
