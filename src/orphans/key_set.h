/*
 * key_set.h
 *    The in-memory key sets of the one-pass orphan engine (one_pass.cpp).
 *
 * Pure C++ with no PostgreSQL calls of its own, unit tested without a server
 * (test/unit/key_set_test.cpp).  Every structure here is a POD over memory
 * obtained from an Allocator: in the server that is palloc'd memory of the
 * engine's own memory context, counted against the memory budget, so a set
 * is released by deleting that context and never by a destructor
 * (pg_boundary.h, rule 5).  An allocation that would exceed the budget
 * returns nullptr, and the operation reports failure: the foreign key then
 * falls back to the planner's path.
 *
 * Why hand-written and not Boost.Container: the sets must (a) allocate from a
 * caller-supplied budget-checked allocator that may refuse, (b) never run a
 * destructor (PostgreSQL may longjmp past them while they are alive), and
 * (c) hash with the constraint's own hash functions, called through a probe
 * callback that may itself ereport.  Boost's flat_set is a sorted vector
 * (O(log n) probes, O(n) inserts), and its containers report allocation
 * failure by throwing, which rule 2 forbids across PostgreSQL frames; an
 * open-addressing table of 16-byte slots over a plain array meets all three
 * in 150 lines.
 */
#ifndef FK_GUARD_KEY_SET_H
#define FK_GUARD_KEY_SET_H

#include <cstddef>
#include <cstdint>
#include <cstring>

namespace fkg::keyset {

/* Zeroed memory or nullptr (budget exceeded); release may be a no-op. */
struct Allocator {
	void *(*alloc)(void *arg, size_t bytes);
	void (*release)(void *arg, void *memory, size_t bytes);
	void *arg;
};

inline uint64_t
mix64(uint64_t x)
{
	/* splitmix64's finalizer */
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ULL;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebULL;
	x ^= x >> 31;
	return x;
}

/* A 32-bit hash of bytes (8 bytes at a time, mixed); never 0. */
inline uint32_t
hash_bytes(const void *data, size_t length)
{
	const unsigned char *p = static_cast<const unsigned char *>(data);
	uint64_t h = 0x9e3779b97f4a7c15ULL ^ length;
	while (length >= 8) {
		uint64_t word;
		memcpy(&word, p, 8);
		h = mix64(h ^ word);
		p += 8;
		length -= 8;
	}
	uint64_t tail = 0;
	memcpy(&tail, p, length);
	h = mix64(h ^ tail ^ (uint64_t(length) << 56));
	uint32_t folded = uint32_t(h ^ (h >> 32));
	return folded == 0 ? 1 : folded;
}

/* Combines column hashes (as PostgreSQL's hash_combine); never 0. */
inline uint32_t
combine(uint32_t seed, uint32_t value)
{
	seed ^= value + 0x9e3779b9 + (seed << 6) + (seed >> 2);
	return seed == 0 ? 1 : seed;
}

/* Bump allocation of keys in chunks from the allocator. */
struct Arena {
	char *chunk;
	size_t used;
	size_t size;
	Allocator alloc;
};

inline void
arena_init(Arena *arena, Allocator alloc)
{
	arena->chunk = nullptr;
	arena->used = arena->size = 0;
	arena->alloc = alloc;
}

/* 8-byte aligned memory for bytes, or nullptr. */
inline void *
arena_alloc(Arena *arena, size_t bytes)
{
	bytes = (bytes + 7) & ~size_t(7);
	if (arena->chunk == nullptr || arena->size - arena->used < bytes) {
		size_t size = bytes > 65536 ? bytes : 65536;
		char *chunk = static_cast<char *>(arena->alloc.alloc(arena->alloc.arg, size));
		if (chunk == nullptr)
			return nullptr;
		arena->chunk = chunk;
		arena->used = 0;
		arena->size = size;
	}
	void *memory = arena->chunk + arena->used;
	arena->used += bytes;
	return memory;
}

/* Open addressing with linear probing; hash 0 marks an empty slot. */
struct Slot {
	uint32_t hash;
	const void *key;
};

struct Table {
	Slot *slots;
	uint64_t mask;
	uint64_t count;
	Allocator alloc;
};

inline bool
table_init(Table *table, Allocator alloc, uint64_t expected)
{
	uint64_t capacity = 64;
	while (capacity * 7 / 10 < expected)
		capacity *= 2;
	table->alloc = alloc;
	table->count = 0;
	table->mask = capacity - 1;
	table->slots = static_cast<Slot *>(alloc.alloc(alloc.arg, capacity * sizeof(Slot)));
	return table->slots != nullptr;
}

/* The stored key equal to the probe (eq(stored key) says), or nullptr. */
template <typename Eq>
const void *
table_find(const Table *table, uint32_t hash, Eq &&eq)
{
	for (uint64_t i = hash & table->mask;; i = (i + 1) & table->mask) {
		const Slot &slot = table->slots[i];
		if (slot.hash == 0)
			return nullptr;
		if (slot.hash == hash && eq(slot.key))
			return slot.key;
	}
}

inline bool
table_grow(Table *table)
{
	uint64_t capacity = (table->mask + 1) * 2;
	Slot *slots = static_cast<Slot *>(table->alloc.alloc(table->alloc.arg, capacity * sizeof(Slot)));
	if (slots == nullptr)
		return false;
	for (uint64_t i = 0; i <= table->mask; i++) {
		const Slot &old = table->slots[i];
		if (old.hash == 0)
			continue;
		uint64_t j = old.hash & (capacity - 1);
		while (slots[j].hash != 0)
			j = (j + 1) & (capacity - 1);
		slots[j] = old;
	}
	if (table->alloc.release != nullptr)
		table->alloc.release(table->alloc.arg, table->slots, (table->mask + 1) * sizeof(Slot));
	table->slots = slots;
	table->mask = capacity - 1;
	return true;
}

/* Outcome of an insertion. */
enum class Insert { kAdded, kPresent, kNoMemory };

/*
 * Adds key unless an equal one is stored.  make_key() returns the key to
 * store (copied into an arena, say) or nullptr when out of memory; it is
 * called only when the key is new.
 */
template <typename Eq, typename MakeKey>
Insert
table_insert(Table *table, uint32_t hash, Eq &&eq, MakeKey &&make_key)
{
	if ((table->count + 1) * 10 > (table->mask + 1) * 7 && !table_grow(table))
		return Insert::kNoMemory;
	uint64_t i = hash & table->mask;
	for (;; i = (i + 1) & table->mask) {
		const Slot &slot = table->slots[i];
		if (slot.hash == 0)
			break;
		if (slot.hash == hash && eq(slot.key))
			return Insert::kPresent;
	}
	const void *key = make_key();
	if (key == nullptr)
		return Insert::kNoMemory;
	table->slots[i].hash = hash;
	table->slots[i].key = key;
	table->count++;
	return Insert::kAdded;
}

/*
 * A set of 64-bit integers built from a complete list of values: a bitmap
 * over [min, max] when the values are dense (serial keys: 1 bit per value in
 * the range), else an open-addressing table of offsets from min, 4 bytes a
 * slot when the range allows, 8 otherwise.  Offsets are stored plus one, so
 * that 0 marks an empty slot.
 */
struct IntSet {
	enum Kind { kEmpty, kBitmap, kHash32, kHash64 } kind;
	int64_t min;
	int64_t max;
	uint64_t count;
	uint64_t mask;
	uint64_t *bits;
	uint32_t *slots32;
	uint64_t *slots64;
};

inline uint64_t
intset_offset(const IntSet *set, int64_t value)
{
	return uint64_t(value) - uint64_t(set->min);
}

/* Builds set from values[0..n) (duplicates allowed). False: out of memory, or
 * a range too wide for offsets plus one (the caller uses a Table instead). */
inline bool
intset_build(IntSet *set, const int64_t *values, size_t n, Allocator alloc)
{
	memset(set, 0, sizeof(*set));
	set->kind = IntSet::kEmpty;
	if (n == 0)
		return true;
	set->min = set->max = values[0];
	for (size_t i = 1; i < n; i++) {
		if (values[i] < set->min)
			set->min = values[i];
		if (values[i] > set->max)
			set->max = values[i];
	}
	uint64_t range = uint64_t(set->max) - uint64_t(set->min); /* values span range + 1 */
	/* A bitmap no larger than 64 bits per value: at least as small as the table. */
	if (range / 64 <= n) {
		set->kind = IntSet::kBitmap;
		set->bits = static_cast<uint64_t *>(alloc.alloc(alloc.arg, (range / 64 + 1) * sizeof(uint64_t)));
		if (set->bits == nullptr)
			return false;
		for (size_t i = 0; i < n; i++) {
			uint64_t off = intset_offset(set, values[i]);
			set->bits[off / 64] |= uint64_t(1) << (off % 64);
		}
		set->count = n;
		return true;
	}
	if (range == UINT64_MAX)
		return false;
	uint64_t capacity = 64;
	while (capacity / 2 < n)
		capacity *= 2;
	set->mask = capacity - 1;
	set->kind = range < UINT32_MAX ? IntSet::kHash32 : IntSet::kHash64;
	if (set->kind == IntSet::kHash32) {
		set->slots32 = static_cast<uint32_t *>(alloc.alloc(alloc.arg, capacity * sizeof(uint32_t)));
		if (set->slots32 == nullptr)
			return false;
	} else {
		set->slots64 = static_cast<uint64_t *>(alloc.alloc(alloc.arg, capacity * sizeof(uint64_t)));
		if (set->slots64 == nullptr)
			return false;
	}
	for (size_t i = 0; i < n; i++) {
		uint64_t stored = intset_offset(set, values[i]) + 1;
		for (uint64_t j = mix64(stored) & set->mask;; j = (j + 1) & set->mask) {
			uint64_t at = set->kind == IntSet::kHash32 ? set->slots32[j] : set->slots64[j];
			if (at == stored)
				break;
			if (at == 0) {
				if (set->kind == IntSet::kHash32)
					set->slots32[j] = uint32_t(stored);
				else
					set->slots64[j] = stored;
				set->count++;
				break;
			}
		}
	}
	return true;
}

inline bool
intset_contains(const IntSet *set, int64_t value)
{
	if (set->kind == IntSet::kEmpty || value < set->min || value > set->max)
		return false;
	uint64_t off = intset_offset(set, value);
	if (set->kind == IntSet::kBitmap)
		return (set->bits[off / 64] >> (off % 64)) & 1;
	uint64_t stored = off + 1;
	for (uint64_t j = mix64(stored) & set->mask;; j = (j + 1) & set->mask) {
		uint64_t at = set->kind == IntSet::kHash32 ? set->slots32[j] : set->slots64[j];
		if (at == stored)
			return true;
		if (at == 0)
			return false;
	}
}

/* Bytes intset_build would allocate for n values spanning [min, max]. */
inline uint64_t
intset_bytes(int64_t min, int64_t max, uint64_t n)
{
	uint64_t range = uint64_t(max) - uint64_t(min);
	if (range / 64 <= n)
		return (range / 64 + 1) * 8;
	uint64_t capacity = 64;
	while (capacity / 2 < n)
		capacity *= 2;
	return capacity * (range < UINT32_MAX ? 4 : 8);
}

} // namespace fkg::keyset

#endif /* FK_GUARD_KEY_SET_H */
