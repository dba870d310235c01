/*
 * violation_pending.cpp
 *    The current transaction's waiting violations (see violation_pending.h).
 *
 * Four growable tables in one memory context: the entries; the groups they
 * share (error names, message, constraint description, session names);
 * the distinct query texts; and a pool of keys.  A PL/pgSQL loop swallowing
 * thousands of violations makes thousands of entries but one group and one
 * query.  pending_reserve grows the tables at safe points so that each keeps
 * room for kHeadroom more additions; pending_add only uses room already there.
 */
#include "capture/violation_pending.h"

#include "common/clipped_copy.h"
#include "capture/violation_classify.h"

extern "C" {
#include "common/hashfn.h"
#include "miscadmin.h"
#include "utils/memutils.h"
}

#include <cstring>

namespace fkg {

static_assert(sizeof(PendingViolation) <= 48, "violation_pending.h states the per-violation cost");

namespace {

/* Violations one statement can raise between two safe points: each fresh RI
 * violation follows the start of the RI check's own query, a safe point. */
constexpr int kHeadroom = 16;
constexpr int kMaxGroups = 1024;  /* about 2.4 kB each */
constexpr int kMaxQueries = 1024; /* each at most fk_guard.max_query_length */
constexpr Size kQueryChunk = 16 * 1024;

/* What a run of violations shares. */
struct Group {
	char schema_name[kNameLength]; /* as PostgreSQL's error names them */
	char table_name[kNameLength];
	char constraint_name[kNameLength];
	char user_name[kNameLength];
	char application_name[kNameLength];
	char message[kMessageLength]; /* tells a re-raise from another violation */
	int query;
	ConstraintInfo info;
};

MemoryContext pending_context = nullptr;

/* The store, all of it in pending_context. */
struct Pool {
	PendingViolation *entries;
	int entry_count, entry_room;

	Group *groups;
	uint32 *group_hashes; /* hash of each group's bytes: a quick first test */
	int group_count, group_room, group_hashes_room;

	/* Query texts, NUL-terminated, in chunks; queries[i] points into one. */
	const char **queries;
	int query_count, query_room;
	char *chunk; /* the chunk being filled */
	Size chunk_free;

	char *keys;
	Size keys_used, keys_room;

	/* Nothing was added or given back since the last reservation: it still holds. */
	bool reserved;
};
Pool pool = {};

template <typename T>
void
grow(T **array, int *room, int used, int limit)
{
	if (used + kHeadroom <= *room || *room >= limit)
		return;
	int wanted = Min(limit, Max(2 * *room, used + kHeadroom));
	*array = *array == nullptr ? (T *) MemoryContextAlloc(pending_context, sizeof(T) * wanted)
	                           : (T *) repalloc(*array, sizeof(T) * wanted);
	*room = wanted;
}

/* The index of query text, added when new; -1 without room. */
int
query_index(const char *query)
{
	/* A run of violations alternates between a few texts (the top-level
	 * query, the statement inside a function): look at the newest few. */
	for (int i = pool.query_count - 1; i >= 0 && i >= pool.query_count - 4; i--)
		if (strcmp(pool.queries[i], query) == 0)
			return i;
	size_t length = strlen(query) + 1;
	if (pool.query_count == pool.query_room || length > pool.chunk_free)
		return -1;
	memcpy(pool.chunk, query, length);
	pool.queries[pool.query_count] = pool.chunk;
	pool.chunk += length;
	pool.chunk_free -= length;
	return pool.query_count++;
}

void
fill_group(Group *g, const ViolationEvent &e, const char *message, int query)
{
	memset(g, 0, sizeof(*g));
	memcpy(g->schema_name, e.schema_name, sizeof(g->schema_name));
	memcpy(g->table_name, e.table_name, sizeof(g->table_name));
	memcpy(g->constraint_name, e.constraint_name, sizeof(g->constraint_name));
	memcpy(g->user_name, e.user_name, sizeof(g->user_name));
	memcpy(g->application_name, e.application_name, sizeof(g->application_name));
	copy_truncated(g->message, sizeof(g->message), message);
	g->query = query;
	g->info = e.info;
}

/* The index of the group of (e, message, query), added when new; -1 without room. */
int
group_index(const ViolationEvent &e, const char *message, int query)
{
	if (pool.group_count == pool.group_room)
		return -1;
	Group &candidate = pool.groups[pool.group_count]; /* built in the free slot, kept if new */
	fill_group(&candidate, e, message, query);
	uint32 hash = hash_bytes((const unsigned char *) &candidate, sizeof(Group));
	/* Groups are told apart by their bytes, padding included (ConstraintInfo
	 * has some): fill_group() zeroes a Group before filling it, and two equal
	 * groups whose padding differed would only be kept twice, never merged
	 * wrongly. */
	for (int i = pool.group_count - 1; i >= 0; i--)
		// NOLINTNEXTLINE(bugprone-suspicious-memory-comparison): bytes are the identity, see above
		if (pool.group_hashes[i] == hash && memcmp(&pool.groups[i], &candidate, sizeof(Group)) == 0)
			return i;
	pool.group_hashes[pool.group_count] = hash;
	return pool.group_count++;
}

} // namespace

void
pending_reserve()
{
	if (pool.reserved)
		return;
	if (pending_context == nullptr)
		pending_context = AllocSetContextCreate(TopMemoryContext, "fk_guard pending violations",
		                                        ALLOCSET_DEFAULT_SIZES);
	grow(&pool.entries, &pool.entry_room, pool.entry_count, kMaxPendingViolations);
	grow(&pool.groups, &pool.group_room, pool.group_count, kMaxGroups);
	grow(&pool.group_hashes, &pool.group_hashes_room, pool.group_count, kMaxGroups);
	grow(&pool.queries, &pool.query_room, pool.query_count, kMaxQueries);
	if (pool.chunk_free < (Size) kMaxQueryLength + 1) {
		pool.chunk = (char *) MemoryContextAlloc(pending_context, kQueryChunk);
		pool.chunk_free = kQueryChunk;
	}
	Size wanted_keys = pool.keys_used + kHeadroom * (Size) kKeyLength;
	if (wanted_keys > pool.keys_room && pool.keys_room < kMaxPendingKeyBytes) {
		Size room = Min(kMaxPendingKeyBytes, Max(2 * pool.keys_room, wanted_keys));
		pool.keys = pool.keys == nullptr ? (char *) MemoryContextAlloc(pending_context, room)
		                                 : (char *) repalloc(pool.keys, room);
		pool.keys_room = room;
	}
	pool.reserved = true;
}

PendingViolation *
pending_add(const ViolationEvent &e, const char *message, const char *statement)
{
	size_t key_length = strnlen(e.key, sizeof(e.key) - 1);
	if (pool.entry_count == pool.entry_room || pool.keys_used + key_length + 1 > pool.keys_room)
		return nullptr;
	pool.reserved = false;
	int query = query_index(e.query);
	int group = query < 0 ? -1 : group_index(e, message, query);
	if (group < 0)
		return nullptr;
	/* Only a hint for telling re-raises apart: without room, go without. */
	int statement_at = statement == nullptr ? -1 : query_index(statement);
	PendingViolation &p = pool.entries[pool.entry_count++];
	memset(&p, 0, sizeof(p));
	p.ts = e.ts;
	p.userid = e.userid;
	p.side = e.side;
	p.operation = e.operation;
	p.deferred = e.deferred;
	p.group = group;
	p.statement = statement_at;
	p.key_at = (uint32) pool.keys_used;
	memcpy(pool.keys + pool.keys_used, e.key, key_length);
	pool.keys[pool.keys_used + key_length] = '\0';
	pool.keys_used += key_length + 1;
	return &p;
}

bool
pending_matches(const PendingViolation &p, const ViolationEvent &e, const char *message)
{
	const Group &g = pool.groups[p.group];
	return strcmp(g.constraint_name, e.constraint_name) == 0 && strcmp(g.schema_name, e.schema_name) == 0 &&
	       strcmp(g.table_name, e.table_name) == 0 && strcmp(pool.keys + p.key_at, e.key) == 0 &&
	       strncmp(g.message, message, kMessageLength - 1) == 0;
}

bool
pending_statement_in(const PendingViolation &p, const char *text)
{
	return p.statement >= 0 && text != nullptr && strstr(text, pool.queries[p.statement]) != nullptr;
}

int
pending_count()
{
	return pool.entry_count;
}

PendingViolation &
pending_at(int i)
{
	return pool.entries[i];
}

FateList
pending_fates()
{
	return {pool.entry_count > 0 ? &pool.entries[0].fate : nullptr, pool.entry_count, sizeof(PendingViolation)};
}

void
pending_expand(const PendingViolation &p, ViolationEvent *out)
{
	const Group &g = pool.groups[p.group];
	memset(out, 0, offsetof(ViolationEvent, query));
	out->ts = p.ts;
	out->dbid = MyDatabaseId;
	out->userid = p.userid;
	out->pid = MyProcPid;
	out->side = p.side;
	out->operation = p.operation;
	out->deferred = p.deferred;
	out->handled = written_as_handled(p.fate);
	memcpy(out->schema_name, g.schema_name, sizeof(out->schema_name));
	memcpy(out->table_name, g.table_name, sizeof(out->table_name));
	memcpy(out->constraint_name, g.constraint_name, sizeof(out->constraint_name));
	memcpy(out->user_name, g.user_name, sizeof(out->user_name));
	memcpy(out->application_name, g.application_name, sizeof(out->application_name));
	copy_truncated(out->key, sizeof(out->key), pool.keys + p.key_at);
	copy_truncated(out->query, sizeof(out->query), pool.queries[g.query]);
	out->info = g.info;
}

void
pending_remove_if(bool (*done)(const Fate &))
{
	int kept = 0;
	for (int i = 0; i < pool.entry_count; i++)
		if (!done(pool.entries[i].fate))
			pool.entries[kept++] = pool.entries[i];
	pool.entry_count = kept;
}

bool
pending_crowded()
{
	return pool.group_count + kHeadroom >= kMaxGroups || pool.query_count + kHeadroom >= kMaxQueries ||
	       pool.keys_used + kHeadroom * (Size) kKeyLength >= kMaxPendingKeyBytes;
}

/* A text copied into a compacted store: each old one at most once. */
static int
copy_query(int old, const Pool &from, int *query_map, Pool *to)
{
	if (old < 0)
		return -1;
	if (query_map[old] < 0) {
		size_t length = strlen(from.queries[old]) + 1;
		memcpy(to->chunk, from.queries[old], length);
		to->queries[to->query_count] = to->chunk;
		to->chunk += length;
		to->chunk_free -= length;
		query_map[old] = to->query_count++;
	}
	return query_map[old];
}

void
pending_compact()
{
	if (pool.entry_count == 0) {
		pending_clear();
		return;
	}
	/* Everything is built in a new context first, without raising on a
	 * failed allocation; the store switches to it only once it is whole.
	 * Short of memory, it stays as it is. */
	MemoryContext fresh = AllocSetContextCreate(TopMemoryContext, "fk_guard pending violations",
	                                            ALLOCSET_DEFAULT_SIZES);
	Size query_bytes = kMaxQueryLength + 1;
	for (int i = 0; i < pool.query_count; i++)
		query_bytes += strlen(pool.queries[i]) + 1;
	Pool next = {};
	next.entry_room = pool.entry_count + kHeadroom;
	next.group_room = next.group_hashes_room = pool.group_count + kHeadroom;
	next.query_room = pool.query_count + kHeadroom;
	next.keys_room = Min(kMaxPendingKeyBytes, pool.keys_used + kHeadroom * (Size) kKeyLength);
	next.chunk_free = query_bytes;
	auto alloc = [fresh](Size size) { return MemoryContextAllocExtended(fresh, size, MCXT_ALLOC_NO_OOM); };
	next.entries = (PendingViolation *) alloc(sizeof(PendingViolation) * next.entry_room);
	next.groups = (Group *) alloc(sizeof(Group) * next.group_room);
	next.group_hashes = (uint32 *) alloc(sizeof(uint32) * next.group_room);
	next.queries = (const char **) alloc(sizeof(const char *) * next.query_room);
	next.chunk = (char *) alloc(query_bytes);
	next.keys = (char *) alloc(next.keys_room);
	auto *group_map = (int *) alloc(sizeof(int) * (pool.group_count + 1));
	auto *query_map = (int *) alloc(sizeof(int) * (pool.query_count + 1));
	if (!next.entries || !next.groups || !next.group_hashes || !next.queries || !next.chunk || !next.keys ||
	    !group_map || !query_map) {
		MemoryContextDelete(fresh);
		return;
	}
	for (int g = 0; g < pool.group_count; g++)
		group_map[g] = -1;
	for (int q = 0; q < pool.query_count; q++)
		query_map[q] = -1;

	/* Each kept entry's group, texts and key, copied once. */
	for (int i = 0; i < pool.entry_count; i++) {
		PendingViolation &p = next.entries[next.entry_count++];
		p = pool.entries[i];
		if (group_map[p.group] < 0) {
			Group &g = next.groups[next.group_count];
			g = pool.groups[p.group];
			g.query = copy_query(g.query, pool, query_map, &next);
			next.group_hashes[next.group_count] = hash_bytes((const unsigned char *) &g, sizeof(Group));
			group_map[p.group] = next.group_count++;
		}
		p.group = group_map[p.group];
		p.statement = copy_query(p.statement, pool, query_map, &next);
		size_t key_length = strlen(pool.keys + p.key_at) + 1;
		memcpy(next.keys + next.keys_used, pool.keys + p.key_at, key_length);
		p.key_at = (uint32) next.keys_used;
		next.keys_used += key_length;
	}

	MemoryContextDelete(pending_context);
	pending_context = fresh;
	pool = next; /* not reserved: the next safe point makes room */
}

void
pending_clear()
{
	/* Nothing was ever added (no text either): the reservation still holds. */
	if (pool.entry_count == 0 && pool.query_count == 0)
		return;
	/* Starts from an empty context: the query chunks are not reused in place. */
	MemoryContextReset(pending_context);
	pool = Pool{};
}

} // namespace fkg
