/*
 * violation_store.cpp
 *    Shared memory for violation capture.
 *
 * Everything is reserved by the shmem request hook and never grows, whoever
 * records violations:
 *  - SharedStore: the LWLock, the write positions, the overflow counter;
 *  - the ring: fk_guard.max_violations compact slot headers (Slot);
 *  - the text arena: fk_guard.max_violations * kTextBytesPerViolation bytes,
 *    written circularly.  A slot's texts (names, key, query) sit there, each
 *    NUL-terminated; a slot whose texts newer ones have overwritten is no
 *    longer returned;
 *  - a shared hash table of at most kMaxCounters counters, one per declared
 *    foreign key (database, constraint OID), or per (database, schema, table,
 *    constraint) as the error named it when capture could not describe it.  All its entries are
 *    allocated when it is created (HASH_FIXED_SIZE), and the entry count is
 *    checked before HASH_ENTER so that dynahash never splits a bucket into new
 *    shared memory.  Violations that find no free counter are counted in one
 *    overflow counter, and said in the log at most once a minute.
 *
 * Locking protocol: one LWLock.  Writers (violation_store_record, reset) hold it
 * exclusively.  Readers hold it shared only while copying into local memory:
 * the counters in one go (at most kMaxCounters), the ring in batches of at most
 * kBatchSlots slots with their texts.  Between batches a reader releases the
 * lock and hands the batch out (violation_views.cpp builds the rows, filters
 * what the reader may see and folds counters); the next batch skips the slots
 * overwritten meanwhile (by the ring or the arena wrapping), and the read ends
 * early when fk_guard_reset() ran meanwhile.  Catalog lookups happen only with
 * the lock released.  Records are written from transaction-end callbacks and
 * statement starts, never from emit_log_hook (where LWLocks may still be held).
 */
#include "capture/violation_store.h"

#include "capture/violation_classify.h"
#include "common/guc.h"
#include "common/pg_boundary.h"

extern "C" {
#include "miscadmin.h"
#include "storage/ipc.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "utils/hsearch.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"
}

namespace fkg {

namespace {

constexpr int kHours = 24;
constexpr int kBatchSlots = 64;  /* ring slots copied per hold of the shared lock */
constexpr int kScanSlots = 1024; /* ring slots examined per hold, at most */
constexpr TimestampTz kOverflowLogInterval = 60 * USECS_PER_SEC;

/* The texts of one violation, in the order the arena holds them. */
enum TextField {
	kConstraint,
	kChildTable,
	kParentTable,
	kChildPartition,
	kParentPartition,
	kDatabase,
	kUser,
	kApplication,
	kKey,
	kQuery,
	kTextFields
};

/* The most arena bytes one violation takes: its event's text arrays, terminators included. */
constexpr size_t kMaxEventText = 4 * kNameLength + 4 * kQualifiedLength + kKeyLength + kMaxQueryLength + 1;
static_assert(kMaxEventText <= UINT16_MAX, "Slot::text_len holds any violation's text length");
static_assert(guc::kMinViolations * (size_t) kTextBytesPerViolation >= kMaxEventText,
              "the smallest arena holds any one violation's texts");

struct CounterKey {
	Oid dbid;
	Oid declared_oid; /* InvalidOid: the names below, as the error gave them */
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
	ViolationTotals totals;
	int64 minute_start; /* minute (since epoch) that minute_count counts */
	int64 minute_count;
	int64 hour_start;     /* hour of hourly[0]'s slot bookkeeping: last hour written */
	int64 hourly[kHours]; /* violations per hour, indexed by hour % kHours */
};

/* One ring entry: a violation without its texts, which are in the arena. */
struct Slot {
	TimestampTz ts;
	uint64 text_at; /* arena position (bytes since startup) of its first text */
	Oid dbid;
	Oid userid;
	Oid declared_oid;
	int32 pid;
	uint16 text_len; /* arena bytes, terminators included */
	Side side;
	Operation operation;
	bool deferred;
	bool handled;
	bool resolved;
};
static_assert(sizeof(Slot) <= 40, "README.md states the per-slot cost");

struct SharedStore {
	LWLock *lock;
	int capacity;                   /* ring slots */
	uint64 arena_size;              /* text arena bytes */
	uint64 generation;              /* bumped by fk_guard_reset() */
	uint64 written;                 /* violations written since the last reset; slot = written % capacity */
	uint64 text_written;            /* arena bytes written since startup; next byte at text_written % arena_size */
	ViolationTotals overflow;       /* violations of constraints that found no free counter */
	TimestampTz overflow_logged_at; /* last overflow LOG line, server-wide */
};

SharedStore *store = nullptr;
Slot *ring = nullptr;
char *arena = nullptr;
HTAB *counters = nullptr;
shmem_request_hook_type prev_shmem_request = nullptr;
shmem_startup_hook_type prev_shmem_startup = nullptr;

Size
ring_offset()
{
	return MAXALIGN(sizeof(SharedStore));
}

Size
arena_offset()
{
	return add_size(ring_offset(), MAXALIGN(mul_size(sizeof(Slot), guc::max_violations)));
}

/* The struct, the ring and the arena: (40 + kTextBytesPerViolation) bytes a slot. */
Size
store_size()
{
	return add_size(arena_offset(), mul_size(kTextBytesPerViolation, guc::max_violations));
}

void
request_shmem()
{
	if (prev_shmem_request)
		prev_shmem_request();
	RequestAddinShmemSpace(add_size(store_size(), hash_estimate_size(kMaxCounters, sizeof(Counter))));
	RequestNamedLWLockTranche("fk_guard", 1);
}

void
startup_shmem()
{
	if (prev_shmem_startup)
		prev_shmem_startup();

	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	bool found;
	store = (SharedStore *) ShmemInitStruct("fk_guard", store_size(), &found);
	ring = (Slot *) ((char *) store + ring_offset());
	arena = (char *) store + arena_offset();
	if (!found) {
		memset(store, 0, sizeof(SharedStore));
		store->lock = &(GetNamedLWLockTranche("fk_guard"))->lock;
		store->capacity = guc::max_violations;
		store->arena_size = (uint64) guc::max_violations * kTextBytesPerViolation;
	}
	HASHCTL info = {};
	info.keysize = sizeof(CounterKey);
	info.entrysize = sizeof(Counter);
	/* init_size = max_size: every entry is allocated now, none later. */
	counters = ShmemInitHash("fk_guard counters", kMaxCounters, kMaxCounters, &info,
	                         HASH_ELEM | HASH_BLOBS | HASH_FIXED_SIZE);
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

/* ---- the text arena (callers hold the store's lock) ---- */

/* A violation's texts as the arena will hold them. */
struct EventTexts {
	const char *text[kTextFields];
	size_t length[kTextFields]; /* without the terminator */
	size_t total;               /* arena bytes, terminators included */
};

void
gather_texts(const ViolationEvent *e, EventTexts *t)
{
	const ConstraintInfo &info = e->info;
	const char *text[kTextFields] = {info.declared_name,
	                                 info.child_table,
	                                 info.parent_table,
	                                 info.child_partition,
	                                 info.parent_partition,
	                                 e->database_name,
	                                 e->user_name,
	                                 e->application_name,
	                                 e->key,
	                                 e->query};
	const size_t size[kTextFields] = {sizeof(info.declared_name),
	                                  sizeof(info.child_table),
	                                  sizeof(info.parent_table),
	                                  sizeof(info.child_partition),
	                                  sizeof(info.parent_partition),
	                                  sizeof(e->database_name),
	                                  sizeof(e->user_name),
	                                  sizeof(e->application_name),
	                                  sizeof(e->key),
	                                  sizeof(e->query)};
	t->total = 0;
	for (int i = 0; i < kTextFields; i++) {
		t->text[i] = text[i];
		t->length[i] = strnlen(text[i], size[i] - 1);
		t->total += t->length[i] + 1;
	}
}

/* Copies n bytes into the arena at position at, wrapping at its end. */
void
arena_put(uint64 at, const char *src, size_t n)
{
	size_t offset = at % store->arena_size;
	size_t first = Min(n, store->arena_size - offset);
	memcpy(arena + offset, src, first);
	memcpy(arena, src + first, n - first);
}

/* Copies n bytes out of the arena from position at. */
void
arena_get(uint64 at, char *dst, size_t n)
{
	size_t offset = at % store->arena_size;
	size_t first = Min(n, store->arena_size - offset);
	memcpy(dst, arena + offset, first);
	memcpy(dst + first, arena, n - first);
}

/* Appends a violation's texts, each NUL-terminated; returns where they start. */
uint64
arena_append(const EventTexts *t)
{
	uint64 at = store->text_written, pos = at;
	for (int i = 0; i < kTextFields; i++) {
		arena_put(pos, t->text[i], t->length[i]);
		arena_put(pos + t->length[i], "", 1);
		pos += t->length[i] + 1;
	}
	store->text_written = pos;
	return at;
}

/* False once newer texts have overwritten some of the slot's. */
bool
texts_intact(const Slot &s)
{
	return store->text_written - s.text_at <= store->arena_size;
}

/* ---- recording (callers hold the store's lock exclusively) ---- */

void
write_slot(const ViolationEvent *e, const EventTexts *texts)
{
	Slot &s = ring[store->written % store->capacity];
	s.ts = e->ts;
	s.dbid = e->dbid;
	s.userid = e->userid;
	s.declared_oid = e->info.resolved ? e->info.declared_oid : InvalidOid;
	s.pid = e->pid;
	s.side = e->side;
	s.operation = e->operation;
	s.deferred = e->deferred;
	s.handled = e->handled;
	s.resolved = e->info.resolved;
	s.text_len = (uint16) texts->total;
	s.text_at = arena_append(texts);
	store->written++;
}

/*
 * The counter of key, created if one is free; nullptr when all kMaxCounters
 * are taken.  The entry count is checked before HASH_ENTER: at kMaxCounters
 * entries dynahash would split a bucket into newly allocated shared memory
 * even where HASH_FIXED_SIZE refuses it a new entry.
 */
Counter *
counter_for(const CounterKey *key, TimestampTz ts)
{
	Counter *c = (Counter *) hash_search(counters, key, HASH_FIND, nullptr);
	if (c != nullptr || hash_get_num_entries(counters) >= kMaxCounters)
		return c;
	bool found;
	c = (Counter *) hash_search(counters, key, HASH_ENTER_NULL, &found);
	if (c != nullptr && !found) {
		memset(((char *) c) + sizeof(CounterKey), 0, sizeof(Counter) - sizeof(CounterKey));
		c->hour_start = hour_of(ts);
	}
	return c;
}

/* Adds violations (handled of them) raised at ts. */
void
add_to(ViolationTotals *t, int64 violations, int64 handled, TimestampTz ts)
{
	if (t->violations == 0)
		t->first_at = ts;
	t->violations += violations;
	t->handled += handled;
	t->last_at = ts;
}

/* Counts violations in their counter; returns the counter's violations in the last minute. */
int64
count_in(Counter *c, const ViolationEvent *event, int64 violations, int64 handled)
{
	if (event->info.resolved || !*c->declared_name) {
		c->declared_oid = event->info.resolved ? event->info.declared_oid : InvalidOid;
		copy_truncated(c->declared_name, sizeof(c->declared_name), event->info.declared_name);
		copy_truncated(c->child_table, sizeof(c->child_table), event->info.child_table);
		copy_truncated(c->parent_table, sizeof(c->parent_table), event->info.parent_table);
	}
	add_to(&c->totals, violations, handled, event->ts);
	int64 minute = minute_of(event->ts);
	if (minute != c->minute_start) {
		c->minute_start = minute;
		c->minute_count = 0;
	}
	advance_hours(c, hour_of(event->ts));
	c->hourly[hour_of(event->ts) % kHours] += violations;
	return c->minute_count += violations;
}

/* Counts violations that found no free counter; true when it is time to say
 * so in the log (at most once a minute, server-wide). */
bool
count_overflow(int64 violations, int64 handled, TimestampTz ts, TimestampTz now)
{
	add_to(&store->overflow, violations, handled, ts);
	if (now - store->overflow_logged_at < kOverflowLogInterval)
		return false;
	store->overflow_logged_at = now;
	return true;
}

/* ---- reading the ring (readers hold the store's lock shared, one batch at a time) ---- */

/* Ring slots copied with their texts, laid out one after the other. */
struct Batch {
	int count;
	Slot slots[kBatchSlots];
	char text[kBatchSlots * kMaxEventText];
};

/* Where a read of the ring stands between batches. */
struct RingCursor {
	bool started;
	uint64 generation; /* fk_guard_reset() ends the read */
	uint64 next;       /* the next violation (as counted by written) to copy */
	uint64 end;        /* one past the newest violation when the read started */
};

/* Copies the next batch of slots whose texts are intact; false when the read is over. */
bool
copy_batch(RingCursor *cur, Batch *batch)
{
	size_t used = 0;
	batch->count = 0;
	LWLockAcquire(store->lock, LW_SHARED);
	if (!cur->started) {
		cur->started = true;
		cur->generation = store->generation;
		cur->end = store->written;
	} else if (cur->generation != store->generation) {
		LWLockRelease(store->lock);
		return false;
	}
	/* Skip what the ring overwrote since the previous batch. */
	cur->next = Max(cur->next, store->written - Min(store->written, (uint64) store->capacity));
	for (int examined = 0; cur->next < cur->end && batch->count < kBatchSlots && examined < kScanSlots;
	     examined++, cur->next++) {
		const Slot &s = ring[cur->next % store->capacity];
		if (!texts_intact(s))
			continue;
		batch->slots[batch->count++] = s;
		arena_get(s.text_at, batch->text + used, s.text_len);
		used += s.text_len;
	}
	bool more = cur->next < cur->end;
	LWLockRelease(store->lock);
	return more || batch->count > 0;
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

namespace {

/* The counter a violation is counted in: its declared foreign key's, or the
 * names its error gave when capture could not describe it. */
void
counter_key(const ViolationEvent *event, CounterKey *key)
{
	memset(key, 0, sizeof(*key));
	key->dbid = event->dbid;
	if (event->info.resolved) {
		key->declared_oid = event->info.declared_oid;
		return;
	}
	copy_truncated(key->schema, sizeof(key->schema), event->schema_name);
	copy_truncated(key->table, sizeof(key->table), event->table_name);
	copy_truncated(key->constraint, sizeof(key->constraint), event->constraint_name);
}

/* Counts violations (handled of them) in their counter, or in the overflow
 * counter; returns the counter's violations in the last minute.  The caller
 * holds the lock exclusively; *log_overflow says it is time to say the
 * counters are full. */
int64
count_locked(const ViolationEvent *event, int64 violations, int64 handled, TimestampTz now, bool *log_overflow)
{
	CounterKey key;
	counter_key(event, &key);
	Counter *c = counter_for(&key, event->ts);
	if (c != nullptr)
		return count_in(c, event, violations, handled);
	*log_overflow = count_overflow(violations, handled, event->ts, now);
	return 0;
}

void
log_counters_full(const ViolationEvent *event, int64 overflowed)
{
	ereport(LOG_SERVER_ONLY,
	        (errmsg_internal("fk_guard: no free counter for foreign key \"%s\" (all %ld are taken); its "
	                         "violations are counted in the overflow row of fk_violation_stats, %lld so far "
	                         "(said at most once a minute)",
	                         event->info.declared_name, kMaxCounters, (long long) overflowed)));
}

} // namespace

int64
violation_store_record(const ViolationEvent *event)
{
	if (store == nullptr)
		return 0;
	EventTexts texts;
	gather_texts(event, &texts);
	TimestampTz now = GetCurrentTimestamp();
	bool log_overflow = false;

	LWLockAcquire(store->lock, LW_EXCLUSIVE);
	write_slot(event, &texts);
	int64 recent = count_locked(event, 1, event->handled ? 1 : 0, now, &log_overflow);
	int64 overflowed = store->overflow.violations;
	LWLockRelease(store->lock);
	if (log_overflow)
		log_counters_full(event, overflowed);
	return recent;
}

void
violation_store_count(const ViolationEvent *event, int64 violations, int64 handled)
{
	if (store == nullptr || violations <= 0)
		return;
	TimestampTz now = GetCurrentTimestamp();
	bool log_overflow = false;
	LWLockAcquire(store->lock, LW_EXCLUSIVE);
	count_locked(event, violations, handled, now, &log_overflow);
	int64 overflowed = store->overflow.violations;
	LWLockRelease(store->lock);
	if (log_overflow)
		log_counters_full(event, overflowed);
}

namespace {

/* The texts of a copied slot, in TextField order, into v. */
void
unpack(const Slot &s, const char *text, StoredViolation *v)
{
	const char *field[kTextFields];
	for (const char *&f : field) {
		f = text;
		text += strlen(text) + 1;
	}
	v->ts = s.ts;
	v->dbid = s.dbid;
	v->userid = s.userid;
	v->pid = s.pid;
	v->side = s.side;
	v->operation = s.operation;
	v->deferred = s.deferred;
	v->handled = s.handled;
	v->constraint = field[kConstraint];
	v->child_table = field[kChildTable];
	v->parent_table = field[kParentTable];
	v->child_partition = field[kChildPartition];
	v->parent_partition = field[kParentPartition];
	v->database = field[kDatabase];
	v->user = field[kUser];
	v->application = field[kApplication];
	v->key = field[kKey];
	v->query = field[kQuery];
}

} // namespace

void
violation_store_read_ring(void (*row)(const StoredViolation &v, void *arg), void *arg)
{
	Batch *batch = (Batch *) palloc(sizeof(Batch));
	MemoryContext rows = AllocSetContextCreate(CurrentMemoryContext, "fk_violations rows", ALLOCSET_DEFAULT_SIZES);
	RingCursor cursor = {};
	while (copy_batch(&cursor, batch)) {
		MemoryContext caller = MemoryContextSwitchTo(rows);
		const char *text = batch->text;
		for (int i = 0; i < batch->count; i++) {
			StoredViolation v;
			unpack(batch->slots[i], text, &v);
			row(v, arg);
			text += batch->slots[i].text_len;
		}
		MemoryContextSwitchTo(caller);
		MemoryContextReset(rows);
		CHECK_FOR_INTERRUPTS();
	}
	MemoryContextDelete(rows);
	pfree(batch);
}

CounterCopy *
violation_store_copy_counters(int *count, ViolationTotals *overflow)
{
	TimestampTz now = GetCurrentTimestamp();
	LWLockAcquire(store->lock, LW_SHARED);
	long n = hash_get_num_entries(counters);
	CounterCopy *copy = (CounterCopy *) palloc0(sizeof(CounterCopy) * (n + 1));
	int kept = 0;
	HASH_SEQ_STATUS seq;
	hash_seq_init(&seq, counters);
	Counter *c;
	while ((c = (Counter *) hash_seq_search(&seq)) != nullptr) {
		if (c->key.dbid != MyDatabaseId)
			continue;
		CounterCopy &to = copy[kept++];
		to.declared_oid = c->declared_oid;
		memcpy(to.schema, c->key.schema, sizeof(to.schema));
		memcpy(to.table, c->key.table, sizeof(to.table));
		memcpy(to.constraint, c->key.constraint, sizeof(to.constraint));
		memcpy(to.declared_name, c->declared_name, sizeof(to.declared_name));
		memcpy(to.child_table, c->child_table, sizeof(to.child_table));
		memcpy(to.parent_table, c->parent_table, sizeof(to.parent_table));
		to.totals = c->totals;
		to.last_24h = violations_last_24h(c, now);
	}
	if (overflow != nullptr)
		*overflow = store->overflow;
	LWLockRelease(store->lock);
	*count = kept;
	return copy;
}

/* Empties the ring, the counters and the overflow counter; the freed counter
 * entries go back to the table's free list, ready for new constraints. */
void
violation_store_reset()
{
	LWLockAcquire(store->lock, LW_EXCLUSIVE);
	store->generation++;
	store->written = 0;
	memset(&store->overflow, 0, sizeof(store->overflow));
	HASH_SEQ_STATUS seq;
	hash_seq_init(&seq, counters);
	Counter *c;
	while ((c = (Counter *) hash_seq_search(&seq)) != nullptr)
		hash_search(counters, &c->key, HASH_REMOVE, nullptr);
	LWLockRelease(store->lock);
}

} // namespace fkg
