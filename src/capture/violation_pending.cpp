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
constexpr int kMaxGroups = 1024;   /* about 2.4 kB each */
constexpr int kMaxQueries = 1024;  /* each at most fk_guard.max_query_length */
constexpr Size kQueryChunk = 16 * 1024;

/* What a run of violations shares. */
struct Group {
	char schema_name[kNameLength]; /* as PostgreSQL's error names them */
	char table_name[kNameLength];
	char constraint_name[kNameLength];
	char user_name[kNameLength];
	char application_name[kNameLength];
	char message[kMessageLength];  /* tells a re-raise from another violation */
	int query;
	ConstraintInfo info;
};

MemoryContext pending_context = nullptr;

PendingViolation *entries = nullptr;
int entry_count = 0, entry_room = 0;

Group *groups = nullptr;
uint32 *group_hashes = nullptr; /* hash of each group's bytes: a quick first test */
int group_count = 0, group_room = 0, group_hashes_room = 0;

/* Query texts, NUL-terminated, in chunks; queries[i] points into one. */
const char **queries = nullptr;
int query_count = 0, query_room = 0;
char *chunk = nullptr; /* the chunk being filled */
Size chunk_free = 0;

char *keys = nullptr;
Size keys_used = 0, keys_room = 0;

/* Nothing was added or given back since the last reservation: it still holds. */
bool reserved = false;

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
	for (int i = query_count - 1; i >= 0 && i >= query_count - 4; i--)
		if (strcmp(queries[i], query) == 0)
			return i;
	size_t length = strlen(query) + 1;
	if (query_count == query_room || length > chunk_free)
		return -1;
	memcpy(chunk, query, length);
	queries[query_count] = chunk;
	chunk += length;
	chunk_free -= length;
	return query_count++;
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
	if (group_count == group_room)
		return -1;
	Group &candidate = groups[group_count]; /* built in the free slot, kept if new */
	fill_group(&candidate, e, message, query);
	uint32 hash = hash_bytes((const unsigned char *) &candidate, sizeof(Group));
	for (int i = group_count - 1; i >= 0; i--)
		if (group_hashes[i] == hash && memcmp(&groups[i], &candidate, sizeof(Group)) == 0)
			return i;
	group_hashes[group_count] = hash;
	return group_count++;
}

} // namespace

void
pending_reserve()
{
	if (reserved)
		return;
	if (pending_context == nullptr)
		pending_context = AllocSetContextCreate(TopMemoryContext, "fk_guard pending violations",
		                                        ALLOCSET_DEFAULT_SIZES);
	grow(&entries, &entry_room, entry_count, kMaxPendingViolations);
	grow(&groups, &group_room, group_count, kMaxGroups);
	grow(&group_hashes, &group_hashes_room, group_count, kMaxGroups);
	grow(&queries, &query_room, query_count, kMaxQueries);
	if (chunk_free < (Size) kMaxQueryLength + 1) {
		chunk = (char *) MemoryContextAlloc(pending_context, kQueryChunk);
		chunk_free = kQueryChunk;
	}
	Size wanted_keys = keys_used + kHeadroom * (Size) kKeyLength;
	if (wanted_keys > keys_room && keys_room < kMaxPendingKeyBytes) {
		Size room = Min(kMaxPendingKeyBytes, Max(2 * keys_room, wanted_keys));
		keys = keys == nullptr ? (char *) MemoryContextAlloc(pending_context, room) : (char *) repalloc(keys, room);
		keys_room = room;
	}
	reserved = true;
}

PendingViolation *
pending_add(const ViolationEvent &e, const char *message, const char *statement)
{
	size_t key_length = strnlen(e.key, sizeof(e.key) - 1);
	if (entry_count == entry_room || keys_used + key_length + 1 > keys_room)
		return nullptr;
	reserved = false;
	int query = query_index(e.query);
	int group = query < 0 ? -1 : group_index(e, message, query);
	if (group < 0)
		return nullptr;
	/* Only a hint for telling re-raises apart: without room, go without. */
	int statement_at = statement == nullptr ? -1 : query_index(statement);
	PendingViolation &p = entries[entry_count++];
	memset(&p, 0, sizeof(p));
	p.ts = e.ts;
	p.userid = e.userid;
	p.side = e.side;
	p.operation = e.operation;
	p.deferred = e.deferred;
	p.group = group;
	p.statement = statement_at;
	p.key_at = (uint32) keys_used;
	memcpy(keys + keys_used, e.key, key_length);
	keys[keys_used + key_length] = '\0';
	keys_used += key_length + 1;
	return &p;
}

bool
pending_matches(const PendingViolation &p, const ViolationEvent &e, const char *message)
{
	const Group &g = groups[p.group];
	return strcmp(g.constraint_name, e.constraint_name) == 0 && strcmp(g.schema_name, e.schema_name) == 0 &&
	       strcmp(g.table_name, e.table_name) == 0 && strcmp(keys + p.key_at, e.key) == 0 &&
	       strncmp(g.message, message, kMessageLength - 1) == 0;
}

bool
pending_statement_in(const PendingViolation &p, const char *text)
{
	return p.statement >= 0 && text != nullptr && strstr(text, queries[p.statement]) != nullptr;
}

int
pending_count()
{
	return entry_count;
}

PendingViolation &
pending_at(int i)
{
	return entries[i];
}

FateList
pending_fates()
{
	return FateList(entry_count > 0 ? &entries[0].fate : nullptr, entry_count, sizeof(PendingViolation));
}

void
pending_expand(const PendingViolation &p, ViolationEvent *out)
{
	const Group &g = groups[p.group];
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
	copy_truncated(out->key, sizeof(out->key), keys + p.key_at);
	copy_truncated(out->query, sizeof(out->query), queries[g.query]);
	out->info = g.info;
}

void
pending_remove_if(bool (*done)(const Fate &))
{
	int kept = 0;
	for (int i = 0; i < entry_count; i++)
		if (!done(entries[i].fate))
			entries[kept++] = entries[i];
	entry_count = kept;
}

bool
pending_crowded()
{
	return group_count + kHeadroom >= kMaxGroups || query_count + kHeadroom >= kMaxQueries ||
	       keys_used + kHeadroom * (Size) kKeyLength >= kMaxPendingKeyBytes;
}

/* A text copied into a compacted store: each old one at most once. */
static int
copy_query(int old, const char **old_queries, int *query_map, const char **new_queries, int *new_count,
           char **chunk_at)
{
	if (old < 0)
		return -1;
	if (query_map[old] < 0) {
		size_t length = strlen(old_queries[old]) + 1;
		memcpy(*chunk_at, old_queries[old], length);
		new_queries[*new_count] = *chunk_at;
		*chunk_at += length;
		query_map[old] = (*new_count)++;
	}
	return query_map[old];
}

void
pending_compact()
{
	if (entry_count == 0) {
		pending_clear();
		return;
	}
	/* Everything is built in a new context first, without raising on a
	 * failed allocation; the store switches to it only once it is whole.
	 * Short of memory, it stays as it is. */
	MemoryContext fresh =
	    AllocSetContextCreate(TopMemoryContext, "fk_guard pending violations", ALLOCSET_DEFAULT_SIZES);
	Size query_bytes = kMaxQueryLength + 1;
	for (int i = 0; i < query_count; i++)
		query_bytes += strlen(queries[i]) + 1;
	int new_entry_room = entry_count + kHeadroom, new_group_room = group_count + kHeadroom,
	    new_query_room = query_count + kHeadroom;
	Size new_keys_room = Min(kMaxPendingKeyBytes, keys_used + kHeadroom * (Size) kKeyLength);
	auto alloc = [fresh](Size size) { return MemoryContextAllocExtended(fresh, size, MCXT_ALLOC_NO_OOM); };
	auto *new_entries = (PendingViolation *) alloc(sizeof(PendingViolation) * new_entry_room);
	auto *new_groups = (Group *) alloc(sizeof(Group) * new_group_room);
	auto *new_hashes = (uint32 *) alloc(sizeof(uint32) * new_group_room);
	auto *new_queries = (const char **) alloc(sizeof(const char *) * new_query_room);
	auto *new_chunk = (char *) alloc(query_bytes);
	auto *new_keys = (char *) alloc(new_keys_room);
	auto *group_map = (int *) alloc(sizeof(int) * (group_count + 1));
	auto *query_map = (int *) alloc(sizeof(int) * (query_count + 1));
	if (!new_entries || !new_groups || !new_hashes || !new_queries || !new_chunk || !new_keys || !group_map ||
	    !query_map) {
		MemoryContextDelete(fresh);
		return;
	}
	for (int g = 0; g < group_count; g++)
		group_map[g] = -1;
	for (int q = 0; q < query_count; q++)
		query_map[q] = -1;

	/* Each kept entry's group, texts and key, copied once. */
	int new_groups_count = 0, new_queries_count = 0;
	Size new_keys_used = 0;
	char *chunk_at = new_chunk;
	for (int i = 0; i < entry_count; i++) {
		PendingViolation &p = new_entries[i];
		p = entries[i];
		if (group_map[p.group] < 0) {
			Group &g = new_groups[new_groups_count];
			g = groups[p.group];
			g.query = copy_query(g.query, queries, query_map, new_queries, &new_queries_count, &chunk_at);
			new_hashes[new_groups_count] = hash_bytes((const unsigned char *) &g, sizeof(Group));
			group_map[p.group] = new_groups_count++;
		}
		p.group = group_map[p.group];
		p.statement = copy_query(p.statement, queries, query_map, new_queries, &new_queries_count, &chunk_at);
		size_t key_length = strlen(keys + p.key_at) + 1;
		memcpy(new_keys + new_keys_used, keys + p.key_at, key_length);
		p.key_at = (uint32) new_keys_used;
		new_keys_used += key_length;
	}

	MemoryContextDelete(pending_context);
	pending_context = fresh;
	entries = new_entries;
	entry_room = new_entry_room;
	groups = new_groups;
	group_hashes = new_hashes;
	group_count = new_groups_count;
	group_room = group_hashes_room = new_group_room;
	queries = new_queries;
	query_count = new_queries_count;
	query_room = new_query_room;
	chunk = chunk_at;
	chunk_free = query_bytes - (Size) (chunk_at - new_chunk);
	keys = new_keys;
	keys_used = new_keys_used;
	keys_room = new_keys_room;
	reserved = false;
}

void
pending_clear()
{
	bool used = entry_count > 0 || query_count > 0;
	reserved = reserved && !used;
	entry_count = group_count = query_count = 0;
	keys_used = 0;
	/* Starts from an empty context: the query chunks are not reused in place. */
	if (used) {
		MemoryContextReset(pending_context);
		entries = nullptr;
		groups = nullptr;
		group_hashes = nullptr;
		queries = nullptr;
		keys = nullptr;
		entry_room = group_room = group_hashes_room = query_room = 0;
		keys_room = 0;
		chunk = nullptr;
		chunk_free = 0;
	}
}

} // namespace fkg
