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

/*
 * What every set of one pass shares: the hashing seed, the probe cap and the
 * interrupt hook.  Hash values must not be predictable by whoever chooses the
 * keys (a table owner can choose a referenced table's keys so that they all
 * land in one probe chain under a fixed hash, making a build quadratic), so
 * every hash below is mixed with a seed drawn at random for each pass.  Equal
 * hashes that no seed separates (the constraint's own hash functions are not
 * seeded: hashint8 folds many values onto one) make long probe chains
 * anyway, so a probe longer than max_probe fails (kTooLong) and the caller
 * falls back.  Every operation counts its probes and calls interrupt every
 * kInterruptEvery of them; in the server it is CHECK_FOR_INTERRUPTS(), which
 * may longjmp out of any operation (every structure here is a POD whose
 * memory belongs to the caller: nothing is leaked or left to destroy).
 */
struct Guard {
	uint64_t seed;
	uint64_t max_probe;           /* slots a probe may visit before it fails */
	void (*interrupt)(void *arg); /* nullptr, or called every kInterruptEvery steps */
	void *arg;
	uint64_t steps; /* since interrupt was last called */
};

constexpr uint64_t kInterruptEvery = 1 << 16;
/* Far above what a random hash gives at these load factors (the longest probe
 * of 10^8 keys at 70% load is a few hundred), far below quadratic. */
constexpr uint64_t kDefaultMaxProbe = 1024;

inline Guard
guard_make(uint64_t seed, void (*interrupt)(void *arg) = nullptr, void *arg = nullptr)
{
	return Guard{seed, kDefaultMaxProbe, interrupt, arg, 0};
}

/* Counts steps of work, calling the interrupt hook when they add up. */
inline void
guard_step(Guard *guard, uint64_t steps)
{
	guard->steps += steps;
	if (guard->steps >= kInterruptEvery) {
		guard->steps = 0;
		if (guard->interrupt != nullptr)
			guard->interrupt(guard->arg);
	}
}

/* splitmix64's finalizer of x mixed with seed: for a fixed seed a bijection,
 * whose collisions in the low bits cannot be chosen without the seed. */
inline uint64_t
mix64(uint64_t x, uint64_t seed)
{
	x ^= seed;
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ULL;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebULL;
	x ^= x >> 31;
	return x;
}

inline uint32_t
fold(uint64_t h)
{
	uint32_t folded = uint32_t(h ^ (h >> 32));
	return folded == 0 ? 1 : folded;
}

/* A 32-bit hash of bytes (8 bytes at a time, mixed), under seed; never 0. */
inline uint32_t
hash_bytes(const void *data, size_t length, uint64_t seed)
{
	const unsigned char *p = static_cast<const unsigned char *>(data);
	uint64_t h = mix64(0x9e3779b97f4a7c15ULL ^ length, seed);
	while (length >= 8) {
		uint64_t word;
		memcpy(&word, p, 8);
		h = mix64(h ^ word, seed);
		p += 8;
		length -= 8;
	}
	uint64_t tail = 0;
	memcpy(&tail, p, length);
	h = mix64(h ^ tail ^ (uint64_t(length) << 56), seed);
	return fold(h);
}

/* Adds a column's hash to the hash of the columns before it (start with 0),
 * under seed; never 0. */
inline uint32_t
combine(uint32_t hash, uint32_t value, uint64_t seed)
{
	return fold(mix64((uint64_t(hash) << 32) | value, seed));
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

/* Open addressing with linear probing; hash 0 marks an empty slot.  Hashes
 * come from the caller, seeded (hash_bytes, combine). */
struct Slot {
	uint32_t hash;
	const void *key;
};

struct Table {
	Slot *slots;
	uint64_t mask;
	uint64_t count;
	Allocator alloc;
	Guard *guard;
};

/* expected is a hint (reltuples, say): beyond this the table grows as it fills. */
constexpr uint64_t kMaxExpected = uint64_t(1) << 32;

inline bool
table_init(Table *table, Allocator alloc, uint64_t expected, Guard *guard)
{
	if (expected > kMaxExpected)
		expected = kMaxExpected;
	uint64_t capacity = 64;
	while (capacity * 7 / 10 < expected)
		capacity *= 2;
	table->alloc = alloc;
	table->guard = guard;
	table->count = 0;
	table->mask = capacity - 1;
	table->slots = static_cast<Slot *>(alloc.alloc(alloc.arg, capacity * sizeof(Slot)));
	return table->slots != nullptr;
}

/* Outcome of a lookup. */
enum class Find { kFound, kAbsent, kTooLong };

/* Looks for the stored key equal to the probe (eq(stored key) says); on
 * kFound, *found (when not null) is it. */
template <typename Eq>
Find
table_find(const Table *table, uint32_t hash, Eq &&eq, const void **found = nullptr)
{
	uint64_t probes = 0;
	Find outcome = Find::kAbsent;
	for (uint64_t i = hash & table->mask;; i = (i + 1) & table->mask) {
		if (++probes > table->guard->max_probe) {
			outcome = Find::kTooLong;
			break;
		}
		const Slot &slot = table->slots[i];
		if (slot.hash == 0)
			break;
		if (slot.hash == hash && eq(slot.key)) {
			if (found != nullptr)
				*found = slot.key;
			outcome = Find::kFound;
			break;
		}
	}
	guard_step(table->guard, probes);
	return outcome;
}

/* Outcome of an insertion. */
enum class Insert { kAdded, kPresent, kNoMemory, kTooLong };

/* Doubles the table: kAdded, kNoMemory or kTooLong. */
inline Insert
table_grow(Table *table)
{
	uint64_t capacity = (table->mask + 1) * 2;
	Slot *slots = static_cast<Slot *>(table->alloc.alloc(table->alloc.arg, capacity * sizeof(Slot)));
	if (slots == nullptr)
		return Insert::kNoMemory;
	for (uint64_t i = 0; i <= table->mask; i++) {
		const Slot &old = table->slots[i];
		if (old.hash == 0)
			continue;
		uint64_t probes = 1;
		uint64_t j = old.hash & (capacity - 1);
		while (slots[j].hash != 0) {
			j = (j + 1) & (capacity - 1);
			if (++probes > table->guard->max_probe) {
				if (table->alloc.release != nullptr)
					table->alloc.release(table->alloc.arg, slots, capacity * sizeof(Slot));
				return Insert::kTooLong;
			}
		}
		slots[j] = old;
		guard_step(table->guard, probes);
	}
	if (table->alloc.release != nullptr)
		table->alloc.release(table->alloc.arg, table->slots, (table->mask + 1) * sizeof(Slot));
	table->slots = slots;
	table->mask = capacity - 1;
	return Insert::kAdded;
}

/*
 * Adds key unless an equal one is stored.  make_key() returns the key to
 * store (copied into an arena, say) or nullptr when out of memory; it is
 * called only when the key is new.  kTooLong: the probe passed the guard's
 * max_probe (the table is unchanged, and still valid).
 */
template <typename Eq, typename MakeKey>
Insert
table_insert(Table *table, uint32_t hash, Eq &&eq, MakeKey &&make_key)
{
	if ((table->count + 1) * 10 > (table->mask + 1) * 7) {
		Insert grown = table_grow(table);
		if (grown != Insert::kAdded)
			return grown;
	}
	uint64_t probes = 0;
	Insert outcome = Insert::kAdded;
	uint64_t i = hash & table->mask;
	for (;; i = (i + 1) & table->mask) {
		if (++probes > table->guard->max_probe) {
			outcome = Insert::kTooLong;
			break;
		}
		const Slot &slot = table->slots[i];
		if (slot.hash == 0)
			break;
		if (slot.hash == hash && eq(slot.key)) {
			outcome = Insert::kPresent;
			break;
		}
	}
	guard_step(table->guard, probes);
	if (outcome != Insert::kAdded)
		return outcome;
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
 * that 0 marks an empty slot; max, always a member, is not stored when its
 * offset plus one would wrap to 0 (values spanning all of int64).
 */
struct IntSet {
	enum Kind { kEmpty, kBitmap, kHash32, kHash64 } kind;
	int64_t min;
	int64_t max;
	uint64_t count;
	uint64_t mask;
	uint64_t seed;
	uint64_t *bits;
	uint32_t *slots32;
	uint64_t *slots64;
};

inline uint64_t
intset_offset(const IntSet *set, int64_t value)
{
	return uint64_t(value) - uint64_t(set->min);
}

/* Outcome of intset_build. */
enum class Build { kBuilt, kNoMemory, kTooLong };

inline uint64_t
intset_slot(const IntSet *set, uint64_t j)
{
	return set->kind == IntSet::kHash32 ? set->slots32[j] : set->slots64[j];
}

/* Builds set from values[0..n) (duplicates allowed), hashing under the
 * guard's seed.  kTooLong: a probe, or a run of occupied slots (what a
 * lookup may walk), passed the guard's max_probe. */
inline Build
intset_build(IntSet *set, const int64_t *values, size_t n, Allocator alloc, Guard *guard)
{
	memset(set, 0, sizeof(*set));
	set->kind = IntSet::kEmpty;
	set->seed = guard->seed;
	if (n == 0)
		return Build::kBuilt;
	set->min = set->max = values[0];
	for (size_t i = 1; i < n; i++) {
		if (values[i] < set->min)
			set->min = values[i];
		if (values[i] > set->max)
			set->max = values[i];
		guard_step(guard, 1);
	}
	uint64_t range = uint64_t(set->max) - uint64_t(set->min); /* values span range + 1 */
	/* A bitmap no larger than 64 bits per value: at least as small as the table. */
	if (range / 64 <= n) {
		set->kind = IntSet::kBitmap;
		set->bits = static_cast<uint64_t *>(alloc.alloc(alloc.arg, (range / 64 + 1) * sizeof(uint64_t)));
		if (set->bits == nullptr)
			return Build::kNoMemory;
		for (size_t i = 0; i < n; i++) {
			uint64_t off = intset_offset(set, values[i]);
			set->bits[off / 64] |= uint64_t(1) << (off % 64);
			guard_step(guard, 1);
		}
		set->count = n;
		return Build::kBuilt;
	}
	uint64_t capacity = 64;
	while (capacity / 2 < n)
		capacity *= 2;
	set->mask = capacity - 1;
	set->kind = range < UINT32_MAX ? IntSet::kHash32 : IntSet::kHash64;
	if (set->kind == IntSet::kHash32) {
		set->slots32 = static_cast<uint32_t *>(alloc.alloc(alloc.arg, capacity * sizeof(uint32_t)));
		if (set->slots32 == nullptr)
			return Build::kNoMemory;
	} else {
		set->slots64 = static_cast<uint64_t *>(alloc.alloc(alloc.arg, capacity * sizeof(uint64_t)));
		if (set->slots64 == nullptr)
			return Build::kNoMemory;
	}
	for (size_t i = 0; i < n; i++) {
		uint64_t stored = intset_offset(set, values[i]) + 1;
		if (stored == 0)
			continue; /* max of a set spanning all of int64: never stored */
		uint64_t probes = 0;
		for (uint64_t j = mix64(stored, set->seed) & set->mask;; j = (j + 1) & set->mask) {
			if (++probes > guard->max_probe)
				return Build::kTooLong;
			uint64_t at = intset_slot(set, j);
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
		guard_step(guard, probes);
	}
	/* A lookup of an absent value walks to the end of a run of occupied
	 * slots: bound every run (at most half the slots are occupied, so some
	 * slot is empty; start after it). */
	uint64_t start = 0;
	while (intset_slot(set, start) != 0)
		start++;
	uint64_t run = 0;
	for (uint64_t k = 1; k <= capacity; k++) {
		run = intset_slot(set, (start + k) & set->mask) != 0 ? run + 1 : 0;
		if (run >= guard->max_probe)
			return Build::kTooLong;
	}
	guard_step(guard, capacity);
	return Build::kBuilt;
}

inline bool
intset_contains(const IntSet *set, int64_t value)
{
	if (set->kind == IntSet::kEmpty || value < set->min || value > set->max)
		return false;
	if (value == set->min || value == set->max)
		return true;
	uint64_t off = intset_offset(set, value);
	if (set->kind == IntSet::kBitmap)
		return (set->bits[off / 64] >> (off % 64)) & 1;
	uint64_t stored = off + 1;
	for (uint64_t j = mix64(stored, set->seed) & set->mask;; j = (j + 1) & set->mask) {
		uint64_t at = intset_slot(set, j);
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

/*
 * A growable array of fixed-size elements that holds at most max_count of
 * them (the one pass's orphan ctids: at most what one array value can hold).
 */
struct Vector {
	char *data;
	uint64_t count;
	uint64_t capacity;
	uint64_t max_count;
	size_t element;
	Allocator alloc;
};

inline void
vector_init(Vector *vector, Allocator alloc, size_t element, uint64_t max_count)
{
	memset(vector, 0, sizeof(*vector));
	vector->alloc = alloc;
	vector->element = element;
	vector->max_count = max_count;
}

/* Outcome of vector_push. */
enum class Push { kPushed, kNoMemory, kFull };

inline Push
vector_push(Vector *vector, const void *element)
{
	if (vector->count >= vector->max_count)
		return Push::kFull;
	if (vector->count == vector->capacity) {
		uint64_t grown = vector->capacity == 0 ? 1024 : vector->capacity * 2;
		if (grown > vector->max_count)
			grown = vector->max_count;
		char *data = static_cast<char *>(vector->alloc.alloc(vector->alloc.arg, grown * vector->element));
		if (data == nullptr)
			return Push::kNoMemory;
		if (vector->count > 0) {
			memcpy(data, vector->data, vector->count * vector->element);
			if (vector->alloc.release != nullptr)
				vector->alloc.release(vector->alloc.arg, vector->data, vector->capacity * vector->element);
		}
		vector->data = data;
		vector->capacity = grown;
	}
	memcpy(vector->data + vector->count * vector->element, element, vector->element);
	vector->count++;
	return Push::kPushed;
}

} // namespace fkg::keyset

#endif /* FK_GUARD_KEY_SET_H */
