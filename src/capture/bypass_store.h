/*
 * bypass_store.h
 *    Shared memory for bypass tracking: one counter per declared foreign key
 *    of rows written while its RI triggers did not fire, an overflow counter,
 *    and since when tracking was lost.  Kept across clean restarts in a file
 *    (see bypass_store.cpp for the file, the locking and the restart rules).
 */
#ifndef FK_GUARD_BYPASS_STORE_H
#define FK_GUARD_BYPASS_STORE_H

#include "capture/bypass_line.h"
#include "capture/violation_event.h"

extern "C" {
#include "postgres.h"
#include "datatype/timestamp.h"
}

namespace fkg {

/* Distinct bypass counters, one per (database, declared foreign key); more
 * land in one overflow counter. */
constexpr long kMaxBypassCounters = 4096;
/* Distinct roles remembered per counter. */
constexpr int kBypassRoles = 8;

/* Why tracking was lost (BypassTracking::lost_reason). */
enum class TrackingLost : char {
	None = 'n',
	NoFile = 'f',   /* no saved counters: first start, or fk_guard was not preloaded before */
	Unclean = 'u',  /* crash, pg_ctl -m immediate, or a restart after one */
	Mismatch = 'm', /* the saved counters are older than the last shutdown: a run without fk_guard */
	Reset = 'r',    /* fk_guard_reset() */
	Promoted = 'p'  /* the server was a standby: its primary's bypasses were not seen here */
};
const char *tracking_lost_name(TrackingLost why);

/* One bypassed write's worth of counting (a statement's, added at commit). */
struct BypassWrite {
	int64 rows;
	TimestampTz ts;
	Oid dbid;
	Oid declared_oid;
	Oid role;
	uint32 reasons;
	bool prepared;                   /* by PREPARE TRANSACTION: committed at a time not known yet */
	char declared_name[kNameLength]; /* names at the time, for a constraint dropped since */
	char child_table[kQualifiedLength];
	char parent_table[kQualifiedLength];
};

struct BypassTotals {
	int64 rows;
	TimestampTz first_at;
	TimestampTz last_at;
	uint32 reasons;
};

/* One counter of the current database, copied out of shared memory. */
struct BypassCounterCopy {
	Oid declared_oid;
	char declared_name[kNameLength];
	char child_table[kQualifiedLength];
	char parent_table[kQualifiedLength];
	BypassTotals totals;
	int nroles;
	Oid roles[kBypassRoles];
};

/* Where tracking stands, server-wide. */
struct BypassTracking {
	TimestampTz lost_at; /* 0: tracking has been complete since the counters began */
	TrackingLost lost_reason;
	BypassTotals overflow; /* writes of foreign keys that found no free counter */
};

/* _PG_init, when preloaded: the hooks that reserve, load and save the shared memory. */
void bypass_store_install_hooks();
bool bypass_store_attached();

/* Counts writes (callers may be in a transaction-end callback: no catalog
 * access here, one LWLock). */
void bypass_store_add(const BypassWrite *writes, int n);
/* Copies the counter of declared_oid in the current database; false when there is none. */
bool bypass_store_find(Oid declared_oid, BypassCounterCopy *out);
/* Copies every counter of the current database (palloc'd). */
BypassCounterCopy *bypass_store_copy(int *count);
BypassTracking bypass_store_tracking();
/* Empties the counters; tracking counts as lost from now on (nothing said
 * before the reset is known any more). */
void bypass_store_reset();

/*
 * Prepared transactions.  Their writes are counted at PREPARE with the
 * reason kPrepared, which makes their foreign keys dirty whenever their last
 * check started, until an audit sees that no prepared transaction is left:
 * it reads bypass_store_prepare_generation(), then finds pg_prepared_xacts
 * empty, then calls bypass_store_prepared_resolved() with what it read, which
 * times those writes now (they committed or rolled back before).  A PREPARE
 * after the generation was read is left flagged.
 */
uint64 bypass_store_prepare_generation();
void bypass_store_prepared_resolved(uint64 generation);

} // namespace fkg

#endif /* FK_GUARD_BYPASS_STORE_H */
