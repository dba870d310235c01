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
#include "datatype/timestamp.h"
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

/* One violation of the ring, copied out of shared memory; the texts are
 * those recorded (empty when absent). */
struct StoredViolation {
	TimestampTz ts;
	Oid dbid;
	Oid userid;
	int32 pid;
	Side side;
	Operation operation;
	bool deferred;
	bool handled;
	const char *constraint;
	const char *child_table;
	const char *parent_table;
	const char *child_partition;
	const char *parent_partition;
	const char *database;
	const char *user;
	const char *application;
	const char *key;
	const char *query;
};

/* Calls row(v, arg) for each violation of the ring, oldest first, holding no
 * lock: the ring is copied in batches under the shared lock, and each batch is
 * handed out after the lock is released, in a memory context reset after it.
 * Ends early when fk_guard_reset() runs meanwhile. */
void violation_store_read_ring(void (*row)(const StoredViolation &v, void *arg), void *arg);

/* How many violations (handled of them), and when the first and the last were. */
struct ViolationTotals {
	int64 violations;
	int64 handled;
	TimestampTz first_at;
	TimestampTz last_at;
};

/* One counter of the current database, copied out of shared memory. */
struct CounterCopy {
	Oid declared_oid;         /* InvalidOid: known only by the names its error gave */
	char schema[kNameLength]; /* those names */
	char table[kNameLength];
	char constraint[kNameLength];
	char declared_name[kNameLength]; /* the description recorded with its violations */
	char child_table[kQualifiedLength];
	char parent_table[kQualifiedLength];
	ViolationTotals totals;
	int64 last_24h; /* violations in the 24 hours before the copy */
};

/* Copies the counters of the current database (palloc'd, *count of them) and,
 * when overflow is not nullptr, the overflow counter (the violations of
 * constraints that found no free counter, in any database), under the shared lock. */
CounterCopy *violation_store_copy_counters(int *count, ViolationTotals *overflow);

/* Empties the ring, the counters and the overflow counter. */
void violation_store_reset();

} // namespace fkg

#endif /* FK_GUARD_VIOLATION_STORE_H */
