/*
 * violation_store.cpp
 *    Shared memory for violation capture.
 *
 * Layout: one SharedStore struct (its LWLock, the ring's write position) followed
 * by the ring of fk_guard.max_violations events, and a shared hash table of
 * counters keyed by (database, schema, table, constraint) as errors name them.
 *
 * Locking protocol: one LWLock.  Writers (violation_store_record, reset) hold it
 * exclusively; readers hold it shared only while copying entries into local
 * memory, and look up names in the catalogs after releasing it.  Records are
 * written from transaction-end callbacks and statement ends, never from
 * emit_log_hook (where LWLocks may still be held).
 */
#include "violation_store.h"

#include "compat.h"
#include "guc.h"
#include "pg_boundary.h"
#include "violation_classify.h"

extern "C" {
#include "access/htup_details.h"
#include "catalog/namespace.h"
#include "catalog/pg_authid.h"
#include "catalog/pg_constraint.h"
#include "commands/dbcommands.h"
#include "miscadmin.h"
#include "storage/ipc.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/hsearch.h"
#include "utils/lsyscache.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"
}

namespace fkg {

namespace {

constexpr long kMaxCounters = 4096;
constexpr int kHours = 24;

struct CounterKey {
	Oid dbid;
	char schema[kNameLength];
	char table[kNameLength];
	char constraint[kNameLength];
};

struct Counter {
	CounterKey key; /* must be first */
	Oid declared_oid;
	char declared_name[kNameLength];
	char child_table[kQualifiedLength];
	char parent_table[kQualifiedLength];
	int64 violations;
	int64 handled;
	TimestampTz first_at;
	TimestampTz last_at;
	int64 minute_start;       /* minute (since epoch) that minute_count counts */
	int64 minute_count;
	int64 hour_start;         /* hour of hourly[0]'s slot bookkeeping: last hour written */
	int64 hourly[kHours];     /* violations per hour, indexed by hour % kHours */
};

struct SharedStore {
	LWLock *lock;
	int capacity;
	uint64 written; /* events ever written since the last reset; ring slot = written % capacity */
	ViolationEvent ring[FLEXIBLE_ARRAY_MEMBER];
};

SharedStore *store = nullptr;
HTAB *counters = nullptr;
shmem_request_hook_type prev_shmem_request = nullptr;
shmem_startup_hook_type prev_shmem_startup = nullptr;

Size
ring_size()
{
	return add_size(offsetof(SharedStore, ring), mul_size(sizeof(ViolationEvent), guc::max_violations));
}

void
request_shmem()
{
	if (prev_shmem_request)
		prev_shmem_request();
	RequestAddinShmemSpace(add_size(ring_size(), hash_estimate_size(kMaxCounters, sizeof(Counter))));
	RequestNamedLWLockTranche("fk_guard", 1);
}

void
startup_shmem()
{
	if (prev_shmem_startup)
		prev_shmem_startup();

	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	bool found;
	store = (SharedStore *) ShmemInitStruct("fk_guard", ring_size(), &found);
	if (!found) {
		store->lock = &(GetNamedLWLockTranche("fk_guard"))->lock;
		store->capacity = guc::max_violations;
		store->written = 0;
	}
	HASHCTL info = {};
	info.keysize = sizeof(CounterKey);
	info.entrysize = sizeof(Counter);
	counters = ShmemInitHash("fk_guard counters", kMaxCounters, kMaxCounters, &info, HASH_ELEM | HASH_BLOBS);
	LWLockRelease(AddinShmemInitLock);
}

/* The hook shells: through the boundary, like every entry point (pg_boundary.h). */
extern "C" void
fkg_shmem_request(void)
{
	invoke([]() {
		request_shmem();
		return (Datum) 0;
	});
}

extern "C" void
fkg_shmem_startup(void)
{
	invoke([]() {
		startup_shmem();
		return (Datum) 0;
	});
}

int64
minute_of(TimestampTz ts)
{
	return ts / (60 * USECS_PER_SEC);
}

int64
hour_of(TimestampTz ts)
{
	return ts / USECS_PER_HOUR;
}

/* Zeroes the hourly slots of hours that passed since the counter was last written. */
void
advance_hours(Counter *c, int64 hour)
{
	if (hour - c->hour_start >= kHours)
		memset(c->hourly, 0, sizeof(c->hourly));
	else
		for (int64 h = c->hour_start + 1; h <= hour; h++)
			c->hourly[h % kHours] = 0;
	c->hour_start = hour;
}

int64
violations_last_24h(const Counter *c, TimestampTz now)
{
	int64 hour = hour_of(now), total = 0;
	for (int64 h = hour - kHours + 1; h <= hour; h++)
		if (h > c->hour_start - kHours && h <= c->hour_start)
			total += c->hourly[h % kHours];
	return total;
}

bool
may_see_details(Oid owner)
{
	Oid user = GetUserId();
	return user == owner || superuser() || has_privs_of_role(user, ROLE_PG_READ_ALL_STATS);
}

Datum
text_or_null(const char *s, bool *isnull)
{
	*isnull = (s == nullptr || *s == '\0');
	return *isnull ? (Datum) 0 : CStringGetTextDatum(s);
}

const char *
qualified(const char *schema, const char *table)
{
	return quote_qualified_identifier(schema, table);
}

/* The declared constraint a counter belongs to, looked up by name when the
 * violation was recorded without a description (current database only). */
Oid
declared_constraint(const Counter *c)
{
	if (OidIsValid(c->declared_oid))
		return c->declared_oid;
	Oid nsp = get_namespace_oid(c->key.schema, true);
	Oid rel = OidIsValid(nsp) ? get_relname_relid(c->key.table, nsp) : InvalidOid;
	Oid con = OidIsValid(rel) ? get_relation_constraint_oid(rel, c->key.constraint, true) : InvalidOid;
	while (OidIsValid(con)) {
		HeapTuple tuple = SearchSysCache1(CONSTROID, ObjectIdGetDatum(con));
		if (!HeapTupleIsValid(tuple))
			break;
		Oid parent = ((Form_pg_constraint) GETSTRUCT(tuple))->conparentid;
		ReleaseSysCache(tuple);
		if (!OidIsValid(parent))
			break;
		con = parent;
	}
	return con;
}

/* Copies the counters of the current database, under the shared lock. */
Counter *
copy_counters(int *count)
{
	LWLockAcquire(store->lock, LW_SHARED);
	long n = hash_get_num_entries(counters);
	Counter *copy = (Counter *) palloc(sizeof(Counter) * (n + 1));
	int kept = 0;
	HASH_SEQ_STATUS seq;
	hash_seq_init(&seq, counters);
	Counter *c;
	while ((c = (Counter *) hash_seq_search(&seq)) != nullptr)
		if (c->key.dbid == MyDatabaseId)
			copy[kept++] = *c;
	LWLockRelease(store->lock);
	*count = kept;
	return copy;
}

} // namespace

void
violation_store_install_hooks()
{
	prev_shmem_request = shmem_request_hook;
	shmem_request_hook = fkg_shmem_request;
	prev_shmem_startup = shmem_startup_hook;
	shmem_startup_hook = fkg_shmem_startup;
}

bool
violation_store_attached()
{
	return store != nullptr;
}

int64
violation_store_record(const ViolationEvent *event)
{
	if (store == nullptr)
		return 0;
	CounterKey key;
	memset(&key, 0, sizeof(key));
	key.dbid = event->dbid;
	copy_truncated(key.schema, sizeof(key.schema), event->schema_name);
	copy_truncated(key.table, sizeof(key.table), event->table_name);
	copy_truncated(key.constraint, sizeof(key.constraint), event->constraint_name);

	LWLockAcquire(store->lock, LW_EXCLUSIVE);
	store->ring[store->written % store->capacity] = *event;
	store->written++;

	int64 recent = 0;
	bool found;
	/* HASH_ENTER_NULL: a full table drops the counter rather than raising an error here. */
	Counter *c = (Counter *) hash_search(counters, &key, HASH_ENTER_NULL, &found);
	if (c != nullptr) {
		if (!found) {
			memset(((char *) c) + sizeof(CounterKey), 0, sizeof(Counter) - sizeof(CounterKey));
			c->first_at = event->ts;
			c->hour_start = hour_of(event->ts);
		}
		if (event->info.resolved) {
			c->declared_oid = event->info.declared_oid;
			copy_truncated(c->declared_name, sizeof(c->declared_name), event->info.declared_name);
			copy_truncated(c->child_table, sizeof(c->child_table), event->info.child_table);
			copy_truncated(c->parent_table, sizeof(c->parent_table), event->info.parent_table);
		}
		c->violations++;
		c->handled += event->handled ? 1 : 0;
		c->last_at = event->ts;
		int64 minute = minute_of(event->ts);
		if (minute != c->minute_start) {
			c->minute_start = minute;
			c->minute_count = 0;
		}
		recent = ++c->minute_count;
		advance_hours(c, hour_of(event->ts));
		c->hourly[hour_of(event->ts) % kHours]++;
	}
	LWLockRelease(store->lock);
	if (c == nullptr)
		ereport(LOG_SERVER_ONLY,
		        (errmsg_internal("fk_guard: no room for the counters of foreign key \"%s\" (%ld constraints are "
		                         "counted); its violations stay in fk_violations only",
		                         event->constraint_name, kMaxCounters)));
	return recent;
}

void
violation_store_read_ring(ReturnSetInfo *rsinfo)
{
	LWLockAcquire(store->lock, LW_SHARED);
	uint64 n = Min(store->written, (uint64) store->capacity);
	uint64 first = store->written - n;
	ViolationEvent *events = (ViolationEvent *) palloc(sizeof(ViolationEvent) * (n + 1));
	for (uint64 i = 0; i < n; i++)
		events[i] = store->ring[(first + i) % store->capacity];
	LWLockRelease(store->lock);

	for (uint64 i = 0; i < n; i++) {
		const ViolationEvent &e = events[i];
		Datum values[14];
		bool nulls[14] = {};
		char *database = get_database_name(e.dbid);
		char *user = GetUserNameFromId(e.userid, true);
		bool details = may_see_details(e.userid);
		values[0] = TimestampTzGetDatum(e.ts);
		values[1] = DirectFunctionCall1(namein, CStringGetDatum(database ? database : e.database_name));
		values[2] = DirectFunctionCall1(namein, CStringGetDatum(user ? user : e.user_name));
		values[3] = text_or_null(e.application_name, &nulls[3]);
		values[4] = DirectFunctionCall1(namein, CStringGetDatum(e.info.resolved ? e.info.declared_name
		                                                                          : e.constraint_name));
		values[5] = text_or_null(qualified(e.schema_name, e.table_name), &nulls[5]);
		values[6] = text_or_null(e.info.parent_table, &nulls[6]);
		values[7] = CStringGetTextDatum(side_name(e.side));
		values[8] = CStringGetTextDatum(operation_name(e.operation));
		values[9] = text_or_null(details ? e.key : nullptr, &nulls[9]);
		values[10] = text_or_null(details ? e.query : nullptr, &nulls[10]);
		values[11] = BoolGetDatum(e.deferred);
		values[12] = BoolGetDatum(e.handled);
		values[13] = Int32GetDatum(e.pid);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
		CHECK_FOR_INTERRUPTS();
	}
	pfree(events);
}

void
violation_store_read_counters(ReturnSetInfo *rsinfo)
{
	int n;
	Counter *copy = copy_counters(&n);
	/* Fold partition clones (and counters recorded before they were described)
	 * into their declared constraint: the first counter of each group sums the rest. */
	Oid *declared = (Oid *) palloc(sizeof(Oid) * (n + 1));
	for (int i = 0; i < n; i++)
		declared[i] = declared_constraint(&copy[i]);
	for (int i = 0; i < n; i++) {
		if (!OidIsValid(declared[i]))
			continue;
		for (int j = i + 1; j < n; j++) {
			if (declared[j] != declared[i])
				continue;
			copy[i].violations += copy[j].violations;
			copy[i].handled += copy[j].handled;
			copy[i].first_at = Min(copy[i].first_at, copy[j].first_at);
			copy[i].last_at = Max(copy[i].last_at, copy[j].last_at);
			if (!*copy[i].declared_name && *copy[j].declared_name) {
				memcpy(copy[i].declared_name, copy[j].declared_name, sizeof(copy[i].declared_name));
				memcpy(copy[i].child_table, copy[j].child_table, sizeof(copy[i].child_table));
				memcpy(copy[i].parent_table, copy[j].parent_table, sizeof(copy[i].parent_table));
			}
			copy[j].violations = 0;
			declared[j] = InvalidOid;
			copy[j].key.dbid = InvalidOid; /* folded */
		}
	}
	for (int i = 0; i < n; i++) {
		const Counter &c = copy[i];
		if (!OidIsValid(c.key.dbid))
			continue;
		Datum values[7];
		bool nulls[7] = {};
		values[0] = DirectFunctionCall1(namein, CStringGetDatum(*c.declared_name ? c.declared_name : c.key.constraint));
		values[1] = text_or_null(*c.child_table ? c.child_table : qualified(c.key.schema, c.key.table), &nulls[1]);
		values[2] = text_or_null(c.parent_table, &nulls[2]);
		values[3] = Int64GetDatum(c.violations);
		values[4] = Int64GetDatum(c.handled);
		values[5] = TimestampTzGetDatum(c.first_at);
		values[6] = TimestampTzGetDatum(c.last_at);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
}

void
violation_store_read_constraint_counts(ReturnSetInfo *rsinfo)
{
	int n;
	Counter *copy = copy_counters(&n);
	TimestampTz now = GetCurrentTimestamp();
	for (int i = 0; i < n; i++) {
		Oid con = declared_constraint(&copy[i]);
		if (!OidIsValid(con) || copy[i].violations == 0)
			continue;
		int64 violations = copy[i].violations, handled = copy[i].handled;
		int64 last_day = violations_last_24h(&copy[i], now);
		TimestampTz last_at = copy[i].last_at;
		for (int j = i + 1; j < n; j++) {
			if (copy[j].violations == 0 || declared_constraint(&copy[j]) != con)
				continue;
			violations += copy[j].violations;
			handled += copy[j].handled;
			last_day += violations_last_24h(&copy[j], now);
			last_at = Max(last_at, copy[j].last_at);
			copy[j].violations = 0;
		}
		Datum values[5] = {ObjectIdGetDatum(con), Int64GetDatum(violations), Int64GetDatum(handled),
		                   TimestampTzGetDatum(last_at), Int64GetDatum(last_day)};
		bool nulls[5] = {};
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
}

void
violation_store_reset()
{
	LWLockAcquire(store->lock, LW_EXCLUSIVE);
	store->written = 0;
	HASH_SEQ_STATUS seq;
	hash_seq_init(&seq, counters);
	Counter *c;
	while ((c = (Counter *) hash_seq_search(&seq)) != nullptr)
		hash_search(counters, &c->key, HASH_REMOVE, nullptr);
	LWLockRelease(store->lock);
}

} // namespace fkg
