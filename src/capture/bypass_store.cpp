/*
 * bypass_store.cpp
 *    Shared memory for bypass tracking, and the file that keeps it across
 *    clean restarts.
 *
 * Everything is reserved at server start and never grows: a shared hash
 * table of at most kMaxBypassCounters counters (all entries allocated when it
 * is created, HASH_FIXED_SIZE, the entry count checked before HASH_ENTER, as
 * in violation_store.cpp), and one overflow counter for the writes that find
 * no free counter (said in the log at most once a minute).
 *
 * Locking: one LWLock of its own ("fk_guard bypass").  Writers (commit
 * callbacks adding a transaction's counts, fk_guard_reset()) hold it
 * exclusively; readers hold it shared while copying, and look names up in the
 * catalogs only after releasing it.
 *
 * Restarts, as pg_stat_statements does: the postmaster writes the counters to
 * pg_stat/fk_guard_bypass.stat when it exits normally, and the next start
 * reads the file and deletes it.  The counters are trusted only when the file
 * was written after the last shutdown checkpoint of a clean shutdown: the
 * file holds that checkpoint's location, and pg_control must still name it
 * with the state "shut down".  Otherwise writes may have gone unseen (a crash
 * or an immediate shutdown lose the last counts; a run without fk_guard
 * preloaded writes a newer checkpoint), so tracking counts as lost from this
 * start on: every foreign key is possibly bypassed until audited again.  A
 * standby's counters see none of its primary's writes, so a promoted standby
 * loses tracking when it is first asked after the promotion.
 */
#include "capture/bypass_store.h"

#include "capture/violation_classify.h"
#include "common/pg_boundary.h"

extern "C" {
#include "access/xlog.h"
#include "catalog/pg_control.h"
#include "common/controldata_utils.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "storage/fd.h"
#include "storage/ipc.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "utils/hsearch.h"
#include "utils/timestamp.h"
}

#include <sys/stat.h>

namespace fkg {

namespace {

constexpr const char *kFile = PGSTAT_STAT_PERMANENT_DIRECTORY "/fk_guard_bypass.stat";
constexpr const char *kTempFile = PGSTAT_STAT_PERMANENT_DIRECTORY "/fk_guard_bypass.tmp";
constexpr uint32 kFileMagic = 0x666b6231; /* "fkb1" */
constexpr uint32 kFileVersion = 1;
constexpr TimestampTz kOverflowLogInterval = 60 * USECS_PER_SEC;

struct CounterKey {
	Oid dbid;
	Oid declared_oid;
};

struct Counter {
	CounterKey key; /* must be first */
	char declared_name[kNameLength];
	char child_table[kQualifiedLength];
	char parent_table[kQualifiedLength];
	BypassTotals totals;
	int nroles;
	Oid roles[kBypassRoles];
	uint64 prepared_generation; /* 0: no write of a prepared transaction left unresolved */
};

struct SharedBypass {
	LWLock *lock;
	BypassTracking tracking;
	uint64 prepare_generation;           /* bumped by each PREPARE that wrote unchecked */
	uint64 overflow_prepared_generation; /* as Counter's, for the overflow counter */
	bool standby;                        /* started as a standby: tracking is lost at promotion */
	TimestampTz overflow_logged_at;
};

struct FileHeader {
	uint32 magic;
	uint32 version;
	XLogRecPtr checkpoint; /* the shutdown checkpoint the counters are current at */
	BypassTracking tracking;
	uint64 prepare_generation; /* prepared transactions survive a clean restart */
	uint64 overflow_prepared_generation;
	int32 count;
};

SharedBypass *shared = nullptr;
HTAB *counters = nullptr;
shmem_request_hook_type prev_shmem_request = nullptr;
shmem_startup_hook_type prev_shmem_startup = nullptr;

/* The last checkpoint of a clean shutdown, as pg_control says; InvalidXLogRecPtr otherwise. */
XLogRecPtr
clean_shutdown_checkpoint()
{
	bool crc_ok = false;
	ControlFileData *control = get_controlfile(DataDir, &crc_ok);
	XLogRecPtr at = InvalidXLogRecPtr;
	if (crc_ok && (control->state == DB_SHUTDOWNED || control->state == DB_SHUTDOWNED_IN_RECOVERY))
		at = control->checkPoint;
	pfree(control);
	return at;
}

void
tracking_lost(TrackingLost why)
{
	shared->tracking.lost_at = GetCurrentTimestamp();
	shared->tracking.lost_reason = why;
}

/* Whether a name read from the file ends within its array. */
bool
terminated(const char *name, size_t size)
{
	return memchr(name, '\0', size) != nullptr;
}

/* Whether a counter read from the file can be trusted to be read back: the
 * file may be truncated, of another build, or damaged. */
bool
plausible(const Counter &c)
{
	return OidIsValid(c.key.dbid) && OidIsValid(c.key.declared_oid) && c.nroles >= 0 && c.nroles <= kBypassRoles &&
	       c.totals.rows >= 0 && terminated(c.declared_name, sizeof(c.declared_name)) &&
	       terminated(c.child_table, sizeof(c.child_table)) && terminated(c.parent_table, sizeof(c.parent_table));
}

bool
plausible(const BypassTracking &t)
{
	switch (t.lost_reason) {
	case TrackingLost::None:
	case TrackingLost::NoFile:
	case TrackingLost::Unclean:
	case TrackingLost::Mismatch:
	case TrackingLost::Reset:
	case TrackingLost::Promoted:
		return t.overflow.rows >= 0;
	}
	return false;
}

/* Loads the counters saved at the last clean shutdown, if they are current;
 * deletes the file either way (a crash from now on must find none). */
void
load_file()
{
	XLogRecPtr clean = clean_shutdown_checkpoint();
	FILE *file = AllocateFile(kFile, PG_BINARY_R);
	if (file == nullptr) {
		/* After a crash or an immediate shutdown the postmaster writes none. */
		tracking_lost(clean == InvalidXLogRecPtr ? TrackingLost::Unclean : TrackingLost::NoFile);
		return;
	}
	FileHeader header;
	bool ok = fread(&header, sizeof(header), 1, file) == 1 && header.magic == kFileMagic &&
	          header.version == kFileVersion && header.count >= 0 && header.count <= kMaxBypassCounters &&
	          plausible(header.tracking);
	if (ok && (clean == InvalidXLogRecPtr || header.checkpoint != clean)) {
		FreeFile(file);
		unlink(kFile);
		tracking_lost(clean == InvalidXLogRecPtr ? TrackingLost::Unclean : TrackingLost::Mismatch);
		return;
	}
	for (int i = 0; ok && i < header.count; i++) {
		Counter c;
		if (fread(&c, sizeof(c), 1, file) != 1 || !plausible(c)) {
			ok = false;
			break;
		}
		bool found;
		Counter *into = (Counter *) hash_search(counters, &c.key, HASH_ENTER_NULL, &found);
		if (into != nullptr)
			*into = c;
	}
	/* Nothing may follow the counters the header announced. */
	ok = ok && fgetc(file) == EOF;
	FreeFile(file);
	unlink(kFile);
	if (!ok) {
		ereport(LOG, (errmsg("fk_guard: ignoring unreadable file \"%s\"", kFile)));
		HASH_SEQ_STATUS seq;
		hash_seq_init(&seq, counters);
		Counter *c;
		while ((c = (Counter *) hash_seq_search(&seq)) != nullptr)
			hash_search(counters, &c->key, HASH_REMOVE, nullptr);
		tracking_lost(TrackingLost::NoFile);
		return;
	}
	shared->tracking = header.tracking;
	shared->prepare_generation = header.prepare_generation;
	shared->overflow_prepared_generation = header.overflow_prepared_generation;
}

/* on_shmem_exit in the postmaster: saves the counters after a clean shutdown. */
void
save_file(int code)
{
	if (code != 0 || shared == nullptr)
		return;
	XLogRecPtr clean = clean_shutdown_checkpoint();
	if (clean == InvalidXLogRecPtr)
		return; /* immediate shutdown: the next start must not trust old counts */
	FILE *file = AllocateFile(kTempFile, PG_BINARY_W);
	if (file == nullptr) {
		ereport(LOG, (errcode_for_file_access(), errmsg("fk_guard: could not write \"%s\": %m", kTempFile)));
		return;
	}
	FileHeader header = {kFileMagic,
	                     kFileVersion,
	                     clean,
	                     shared->tracking,
	                     shared->prepare_generation,
	                     shared->overflow_prepared_generation,
	                     (int32) hash_get_num_entries(counters)};
	bool ok = fwrite(&header, sizeof(header), 1, file) == 1;
	HASH_SEQ_STATUS seq;
	hash_seq_init(&seq, counters);
	Counter *c;
	while ((c = (Counter *) hash_seq_search(&seq)) != nullptr)
		ok = ok && fwrite(c, sizeof(*c), 1, file) == 1;
	ok = FreeFile(file) == 0 && ok;
	if (ok)
		(void) durable_rename(kTempFile, kFile, LOG);
	else {
		ereport(LOG, (errcode_for_file_access(), errmsg("fk_guard: could not write \"%s\": %m", kTempFile)));
		unlink(kTempFile);
	}
}

extern "C" void fkg_bypass_save_file(int code, Datum arg);

void
request_shmem()
{
	if (prev_shmem_request)
		prev_shmem_request();
	RequestAddinShmemSpace(add_size(MAXALIGN(sizeof(SharedBypass)),
	                                hash_estimate_size(kMaxBypassCounters, sizeof(Counter))));
	RequestNamedLWLockTranche("fk_guard bypass", 1);
}

void
startup_shmem()
{
	if (prev_shmem_startup)
		prev_shmem_startup();
	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	bool found;
	shared = (SharedBypass *) ShmemInitStruct("fk_guard bypass", sizeof(SharedBypass), &found);
	HASHCTL info = {};
	info.keysize = sizeof(CounterKey);
	info.entrysize = sizeof(Counter);
	counters = ShmemInitHash("fk_guard bypass counters", kMaxBypassCounters, kMaxBypassCounters, &info,
	                         HASH_ELEM | HASH_BLOBS | HASH_FIXED_SIZE);
	if (!found) {
		memset(shared, 0, sizeof(*shared));
		shared->lock = &(GetNamedLWLockTranche("fk_guard bypass"))->lock;
		shared->tracking.lost_reason = TrackingLost::None;
		struct stat st;
		shared->standby = stat("standby.signal", &st) == 0;
	}
	LWLockRelease(AddinShmemInitLock);
	if (!found && !IsUnderPostmaster) {
		load_file();
		on_shmem_exit(fkg_bypass_save_file, (Datum) 0);
	}
}

extern "C" void
fkg_bypass_save_file(int code, Datum arg)
{
	invoke_quietly([code]() { save_file(code); });
}

extern "C" void
fkg_bypass_shmem_request(void)
{
	invoke([]() {
		request_shmem();
		return (Datum) 0;
	});
}

extern "C" void
fkg_bypass_shmem_startup(void)
{
	invoke([]() {
		startup_shmem();
		return (Datum) 0;
	});
}

void
add_totals(BypassTotals *t, int64 rows, uint32 reasons, TimestampTz ts)
{
	if (t->first_at == 0)
		t->first_at = ts;
	t->rows += rows;
	t->reasons |= reasons;
	t->last_at = Max(t->last_at, ts);
}

/* The counter of key, created if one is free (see violation_store.cpp's counter_for). */
Counter *
counter_for(const CounterKey *key)
{
	Counter *c = (Counter *) hash_search(counters, key, HASH_FIND, nullptr);
	if (c != nullptr || hash_get_num_entries(counters) >= kMaxBypassCounters)
		return c;
	bool found;
	c = (Counter *) hash_search(counters, key, HASH_ENTER_NULL, &found);
	if (c != nullptr && !found)
		memset(((char *) c) + sizeof(CounterKey), 0, sizeof(Counter) - sizeof(CounterKey));
	return c;
}

void
add_role(Counter *c, Oid role)
{
	for (int i = 0; i < c->nroles; i++)
		if (c->roles[i] == role)
			return;
	if (c->nroles < kBypassRoles)
		c->roles[c->nroles++] = role;
}

void
copy_counter(const Counter &c, BypassCounterCopy *to)
{
	to->declared_oid = c.key.declared_oid;
	memcpy(to->declared_name, c.declared_name, sizeof(to->declared_name));
	memcpy(to->child_table, c.child_table, sizeof(to->child_table));
	memcpy(to->parent_table, c.parent_table, sizeof(to->parent_table));
	to->totals = c.totals;
	if (c.prepared_generation != 0)
		to->totals.reasons |= kPrepared;
	to->nroles = c.nroles;
	memcpy(to->roles, c.roles, sizeof(to->roles));
}

} // namespace

const char *
tracking_lost_name(TrackingLost why)
{
	switch (why) {
	case TrackingLost::None:
		return nullptr;
	case TrackingLost::NoFile:
		return "no_saved_counters";
	case TrackingLost::Unclean:
		return "unclean_shutdown";
	case TrackingLost::Mismatch:
		return "ran_without_fk_guard";
	case TrackingLost::Reset:
		return "reset";
	case TrackingLost::Promoted:
		return "promoted";
	}
	return nullptr;
}

void
bypass_store_install_hooks()
{
	prev_shmem_request = shmem_request_hook;
	shmem_request_hook = fkg_bypass_shmem_request;
	prev_shmem_startup = shmem_startup_hook;
	shmem_startup_hook = fkg_bypass_shmem_startup;
}

bool
bypass_store_attached()
{
	return shared != nullptr;
}

void
bypass_store_add(const BypassWrite *writes, int n)
{
	if (shared == nullptr || n <= 0)
		return;
	bool log_overflow = false;
	TimestampTz now = GetCurrentTimestamp();
	LWLockAcquire(shared->lock, LW_EXCLUSIVE);
	uint64 generation = 0;
	for (int i = 0; i < n; i++)
		if (writes[i].prepared && generation == 0)
			generation = ++shared->prepare_generation;
	for (int i = 0; i < n; i++) {
		const BypassWrite &w = writes[i];
		CounterKey key = {w.dbid, w.declared_oid};
		/* InvalidOid: writes of a transaction past its own budget of foreign keys. */
		Counter *c = OidIsValid(w.declared_oid) ? counter_for(&key) : nullptr;
		if (c == nullptr) {
			add_totals(&shared->tracking.overflow, w.rows, w.reasons, w.ts);
			if (w.prepared)
				shared->overflow_prepared_generation = generation;
			if (now - shared->overflow_logged_at >= kOverflowLogInterval) {
				shared->overflow_logged_at = now;
				log_overflow = true;
			}
			continue;
		}
		copy_truncated(c->declared_name, sizeof(c->declared_name), w.declared_name);
		copy_truncated(c->child_table, sizeof(c->child_table), w.child_table);
		copy_truncated(c->parent_table, sizeof(c->parent_table), w.parent_table);
		add_totals(&c->totals, w.rows, w.reasons, w.ts);
		add_role(c, w.role);
		if (w.prepared)
			c->prepared_generation = generation;
	}
	int64 overflowed = shared->tracking.overflow.rows;
	LWLockRelease(shared->lock);
	if (log_overflow)
		ereport(
			LOG_SERVER_ONLY,
			(errmsg_internal("fk_guard: no free bypass counter (all %ld are taken); bypassed writes are counted "
		                     "in the overflow row of fk_bypass_stats, %lld rows so far (said at most once a minute)",
		                     kMaxBypassCounters, (long long) overflowed)));
}

bool
bypass_store_find(Oid declared_oid, BypassCounterCopy *out)
{
	CounterKey key = {MyDatabaseId, declared_oid};
	LWLockAcquire(shared->lock, LW_SHARED);
	const Counter *c = (const Counter *) hash_search(counters, &key, HASH_FIND, nullptr);
	if (c != nullptr)
		copy_counter(*c, out);
	LWLockRelease(shared->lock);
	return c != nullptr;
}

BypassCounterCopy *
bypass_store_copy(int *count)
{
	LWLockAcquire(shared->lock, LW_SHARED);
	long n = hash_get_num_entries(counters);
	BypassCounterCopy *copy = (BypassCounterCopy *) palloc0(sizeof(BypassCounterCopy) * (n + 1));
	int kept = 0;
	HASH_SEQ_STATUS seq;
	hash_seq_init(&seq, counters);
	Counter *c;
	while ((c = (Counter *) hash_seq_search(&seq)) != nullptr)
		if (c->key.dbid == MyDatabaseId)
			copy_counter(*c, &copy[kept++]);
	LWLockRelease(shared->lock);
	*count = kept;
	return copy;
}

BypassTracking
bypass_store_tracking()
{
	if (shared->standby && !RecoveryInProgress()) {
		LWLockAcquire(shared->lock, LW_EXCLUSIVE);
		if (shared->standby) {
			shared->standby = false;
			tracking_lost(TrackingLost::Promoted);
		}
		LWLockRelease(shared->lock);
	}
	LWLockAcquire(shared->lock, LW_SHARED);
	BypassTracking t = shared->tracking;
	if (shared->overflow_prepared_generation != 0)
		t.overflow.reasons |= kPrepared;
	LWLockRelease(shared->lock);
	return t;
}

uint64
bypass_store_prepare_generation()
{
	LWLockAcquire(shared->lock, LW_SHARED);
	uint64 generation = shared->prepare_generation;
	LWLockRelease(shared->lock);
	return generation;
}

void
bypass_store_prepared_resolved(uint64 generation)
{
	if (shared == nullptr)
		return;
	TimestampTz now = GetCurrentTimestamp();
	LWLockAcquire(shared->lock, LW_EXCLUSIVE);
	HASH_SEQ_STATUS seq;
	hash_seq_init(&seq, counters);
	Counter *c;
	while ((c = (Counter *) hash_seq_search(&seq)) != nullptr)
		if (c->prepared_generation != 0 && c->prepared_generation <= generation) {
			c->prepared_generation = 0;
			c->totals.last_at = Max(c->totals.last_at, now);
		}
	if (shared->overflow_prepared_generation != 0 && shared->overflow_prepared_generation <= generation) {
		shared->overflow_prepared_generation = 0;
		shared->tracking.overflow.last_at = Max(shared->tracking.overflow.last_at, now);
	}
	LWLockRelease(shared->lock);
}

void
bypass_store_reset()
{
	if (shared == nullptr)
		return; /* fk_guard.track_bypass = off: nothing to reset */
	LWLockAcquire(shared->lock, LW_EXCLUSIVE);
	/* Writes of prepared transactions still open outlive the reset: they keep
	 * every foreign key dirty, through the overflow counter, until resolved. */
	bool prepared_open = shared->overflow_prepared_generation != 0;
	HASH_SEQ_STATUS seq;
	hash_seq_init(&seq, counters);
	Counter *c;
	while ((c = (Counter *) hash_seq_search(&seq)) != nullptr) {
		prepared_open = prepared_open || c->prepared_generation != 0;
		hash_search(counters, &c->key, HASH_REMOVE, nullptr);
	}
	memset(&shared->tracking.overflow, 0, sizeof(shared->tracking.overflow));
	shared->overflow_prepared_generation = prepared_open ? shared->prepare_generation : 0;
	tracking_lost(TrackingLost::Reset);
	LWLockRelease(shared->lock);
}

} // namespace fkg
