// Unit tests of the one-pass engine's key sets (src/orphans/key_set.h).
#include "orphans/key_set.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <random>
#include <set>
#include <string>
#include <vector>

namespace {

using namespace fkg::keyset;

// A budget like the server's: zeroed memory, nullptr past the limit.
struct TestBudget {
	size_t used = 0;
	size_t limit = SIZE_MAX;
	std::vector<void *> blocks;
	~TestBudget()
	{
		for (void *b : blocks)
			free(b);
	}
};

void *
test_alloc(void *arg, size_t bytes)
{
	auto *budget = static_cast<TestBudget *>(arg);
	if (budget->used + bytes > budget->limit)
		return nullptr;
	void *memory = calloc(1, bytes);
	budget->used += bytes;
	budget->blocks.push_back(memory);
	return memory;
}

void
test_release(void *arg, void *, size_t bytes)
{
	static_cast<TestBudget *>(arg)->used -= bytes; // freed with the budget
}

Allocator
allocator(TestBudget *budget)
{
	return Allocator{test_alloc, test_release, budget};
}

// Seed 0 and no interrupt hook, unless a test says otherwise.
Guard g_guard = guard_make(0);

uint32_t
hash_of(const std::string &key)
{
	return hash_bytes(key.data(), key.size(), g_guard.seed);
}

bool
contains(const Table &table, const std::string &key)
{
	return table_find(&table, hash_of(key), [&](const void *stored) {
			   return *static_cast<const std::string *>(stored) == key;
		   }) == Find::kFound;
}

TEST(KeySetHash, NeverZeroAndStable)
{
	EXPECT_NE(hash_bytes("", 0, 0), 0u);
	EXPECT_EQ(hash_bytes("abcdefghij", 10, 0), hash_bytes("abcdefghij", 10, 0));
	EXPECT_NE(hash_bytes("abcdefghij", 10, 0), hash_bytes("abcdefghik", 10, 0));
	// a trailing zero byte is part of the key
	EXPECT_NE(hash_bytes("ab\0", 3, 0), hash_bytes("ab", 2, 0));
	EXPECT_NE(combine(0, 0, 0), 0u);
	// the seed changes every hash
	EXPECT_NE(hash_bytes("abcdefghij", 10, 0), hash_bytes("abcdefghij", 10, 12345));
	EXPECT_NE(combine(7, 9, 0), combine(7, 9, 12345));
	EXPECT_NE(mix64(1, 0), mix64(1, 12345));
}

TEST(KeySetTable, FindsWhatWasInsertedAcrossGrowth)
{
	TestBudget budget;
	Table table;
	ASSERT_TRUE(table_init(&table, allocator(&budget), 0, &g_guard));
	std::vector<std::string> keys;
	for (int i = 0; i < 5000; i++)
		keys.push_back("key" + std::to_string(i * 7));
	for (const std::string &k : keys) {
		Insert r = table_insert(
			&table, hash_of(k), [&](const void *stored) { return *static_cast<const std::string *>(stored) == k; },
			[&]() { return static_cast<const void *>(&k); });
		EXPECT_EQ(r, Insert::kAdded);
	}
	EXPECT_EQ(table.count, keys.size());
	for (const std::string &k : keys)
		EXPECT_TRUE(contains(table, k)) << k;
	EXPECT_FALSE(contains(table, "key1"));
	EXPECT_FALSE(contains(table, ""));
	// a second insertion of an equal key is found, not added
	std::string again = "key14";
	EXPECT_EQ(table_insert(
				  &table, hash_of(again),
				  [&](const void *stored) { return *static_cast<const std::string *>(stored) == again; },
				  [&]() { return static_cast<const void *>(&again); }),
	          Insert::kPresent);
	EXPECT_EQ(table.count, keys.size());
}

TEST(KeySetTable, CollidingHashesAreTellApartByEquality)
{
	TestBudget budget;
	Table table;
	ASSERT_TRUE(table_init(&table, allocator(&budget), 0, &g_guard));
	std::vector<std::string> keys = {"a", "b", "c", "d"};
	for (const std::string &k : keys)
		table_insert(
			&table, 42, [&](const void *stored) { return *static_cast<const std::string *>(stored) == k; },
			[&]() { return static_cast<const void *>(&k); });
	EXPECT_EQ(table.count, 4u);
	for (const std::string &k : keys)
		EXPECT_EQ(table_find(&table, 42,
		                     [&](const void *stored) { return *static_cast<const std::string *>(stored) == k; }),
		          Find::kFound);
	EXPECT_EQ(table_find(&table, 42,
	                     [&](const void *stored) { return *static_cast<const std::string *>(stored) == "e"; }),
	          Find::kAbsent);
}

TEST(KeySetTable, ReportsTheBudgetInsteadOfGrowingPastIt)
{
	TestBudget budget;
	budget.limit = 64 * sizeof(Slot) + 1000;
	Table table;
	ASSERT_TRUE(table_init(&table, allocator(&budget), 0, &g_guard));
	std::vector<std::string> keys;
	for (int i = 0; i < 100; i++)
		keys.push_back(std::to_string(i));
	Insert last = Insert::kAdded;
	int added = 0;
	for (const std::string &k : keys) {
		last = table_insert(
			&table, hash_of(k), [&](const void *stored) { return *static_cast<const std::string *>(stored) == k; },
			[&]() { return static_cast<const void *>(&k); });
		if (last != Insert::kAdded)
			break;
		added++;
	}
	EXPECT_EQ(last, Insert::kNoMemory);
	EXPECT_EQ(added, 44); // 70% of 64 slots
	EXPECT_LE(budget.used, budget.limit);
}

TEST(KeySetArena, AlignedAndBounded)
{
	TestBudget budget;
	Arena arena;
	arena_init(&arena, allocator(&budget));
	void *a = arena_alloc(&arena, 3);
	void *b = arena_alloc(&arena, 5);
	ASSERT_NE(a, nullptr);
	EXPECT_EQ(static_cast<char *>(b) - static_cast<char *>(a), 8);
	EXPECT_EQ(reinterpret_cast<uintptr_t>(b) % 8, 0u);
	void *big = arena_alloc(&arena, 200000); // larger than a chunk: a chunk of its own
	EXPECT_NE(big, nullptr);
	budget.limit = budget.used;
	EXPECT_EQ(arena_alloc(&arena, 70000), nullptr);
}

// Every kind of IntSet agrees with std::set on members, neighbours and extremes.
void
check_intset(const std::vector<int64_t> &values, IntSet::Kind expected)
{
	TestBudget budget;
	IntSet set;
	ASSERT_EQ(intset_build(&set, values.data(), values.size(), allocator(&budget), &g_guard), Build::kBuilt);
	EXPECT_EQ(set.kind, expected);
	std::set<int64_t> truth(values.begin(), values.end());
	EXPECT_LE(budget.used, intset_bytes(set.min, set.max, values.size()));
	for (int64_t v : values) {
		EXPECT_TRUE(intset_contains(&set, v)) << v;
		for (int64_t d : {-1, 1})
			if (!((d < 0 && v == INT64_MIN) || (d > 0 && v == INT64_MAX)))
				EXPECT_EQ(intset_contains(&set, v + d), truth.count(v + d) > 0) << v + d;
	}
	for (int64_t v : {INT64_MIN, INT64_MIN + 1, int64_t(-1), int64_t(0), int64_t(1), INT64_MAX - 1, INT64_MAX})
		EXPECT_EQ(intset_contains(&set, v), truth.count(v) > 0) << v;
}

TEST(KeySetIntSet, DenseKeysMakeABitmap)
{
	std::vector<int64_t> v;
	for (int64_t i = 1; i <= 100000; i += 3)
		v.push_back(i);
	v.push_back(5); // a duplicate
	check_intset(v, IntSet::kBitmap);
}

TEST(KeySetIntSet, SparseKeysMakeA32BitTable)
{
	std::mt19937_64 rng(7);
	std::vector<int64_t> v;
	for (int i = 0; i < 20000; i++)
		v.push_back(-1000000000 + int64_t(rng() % 3000000000ULL));
	check_intset(v, IntSet::kHash32);
}

TEST(KeySetIntSet, WideKeysMakeA64BitTable)
{
	std::mt19937_64 rng(11);
	std::vector<int64_t> v = {INT64_MIN + 1, INT64_MAX - 1, 0, -1};
	for (int i = 0; i < 5000; i++)
		v.push_back(int64_t(rng()) / 2);
	check_intset(v, IntSet::kHash64);
}

TEST(KeySetIntSet, EmptyAndFullRange)
{
	TestBudget budget;
	IntSet set;
	ASSERT_EQ(intset_build(&set, nullptr, 0, allocator(&budget), &g_guard), Build::kBuilt);
	EXPECT_FALSE(intset_contains(&set, 0));
	// the whole int64 range: max's offset plus one would be 0, the empty
	// slot; it is a member without being stored
	check_intset({INT64_MIN, INT64_MAX}, IntSet::kHash64);
	check_intset({INT64_MIN, INT64_MAX, 0, -5, 5, INT64_MAX - 1}, IntSet::kHash64);
	// and a set past its budget says so
	std::vector<int64_t> dense(1000);
	for (int i = 0; i < 1000; i++)
		dense[i] = i * 100000;
	budget.limit = budget.used + 16;
	EXPECT_EQ(intset_build(&set, dense.data(), dense.size(), allocator(&budget), &g_guard), Build::kNoMemory);
}

// ---- Adversarial keys, interrupts, probe caps (review findings 2 and 5) ----

// The inverse of mix64(., 0): keys whose hashes under seed 0 a table owner
// could compute and choose.
uint64_t
unxorshift(uint64_t y, int shift)
{
	uint64_t x = y;
	for (int k = shift; k < 64; k += shift)
		x ^= y >> k;
	return x;
}

uint64_t
inverse(uint64_t a)
{
	uint64_t x = a; // Newton's iteration for the inverse modulo 2^64
	for (int i = 0; i < 6; i++)
		x *= 2 - a * x;
	return x;
}

uint64_t
unmix64(uint64_t y)
{
	y = unxorshift(y, 31);
	y *= inverse(0x94d049bb133111ebULL);
	y = unxorshift(y, 27);
	y *= inverse(0xbf58476d1ce4e5b9ULL);
	return unxorshift(y, 30);
}

// n values (and INT64_MIN, which makes each value's offset plus one known)
// whose slots under seed 0 are all one: the low 20 bits of their mix agree.
std::vector<int64_t>
colliding_values(size_t n)
{
	std::vector<int64_t> v = {INT64_MIN};
	for (uint64_t i = 1; i <= n; i++) {
		uint64_t stored = unmix64((i << 20) | 0x5a5a5);
		v.push_back(int64_t(stored - 1 + (uint64_t(1) << 63)));
	}
	return v;
}

TEST(KeySetAdversarial, Unmix64InvertsMix64)
{
	for (uint64_t x : {uint64_t(0), uint64_t(1), uint64_t(0xdeadbeefcafef00dULL), UINT64_MAX})
		EXPECT_EQ(unmix64(mix64(x, 0)), x);
}

TEST(KeySetAdversarial, KeysCollidingUnderSeedZeroDoNotUnderAnother)
{
	std::vector<int64_t> v = colliding_values(5000);
	uint64_t mask = (uint64_t(1) << 14) - 1; // the table of 5001 values: 16384 slots
	std::set<uint64_t> zero, seeded;
	for (size_t i = 1; i < v.size(); i++) {
		uint64_t stored = uint64_t(v[i]) - uint64_t(INT64_MIN) + 1;
		zero.insert(mix64(stored, 0) & mask);
		seeded.insert(mix64(stored, 0x6a09e667f3bcc908ULL) & mask);
	}
	EXPECT_EQ(zero.size(), 1u);
	EXPECT_GT(seeded.size(), 4000u);

	// Under seed 0 every probe walks the whole chain: the build gives up at
	// the probe cap instead of going quadratic.
	TestBudget budget;
	IntSet set;
	Guard zero_guard = guard_make(0);
	EXPECT_EQ(intset_build(&set, v.data(), v.size(), allocator(&budget), &zero_guard), Build::kTooLong);
	// Under another seed the same keys make an ordinary set.
	Guard guard = guard_make(0x6a09e667f3bcc908ULL);
	ASSERT_EQ(intset_build(&set, v.data(), v.size(), allocator(&budget), &guard), Build::kBuilt);
	EXPECT_EQ(set.kind, IntSet::kHash64);
	for (int64_t x : v)
		EXPECT_TRUE(intset_contains(&set, x)) << x;
	EXPECT_FALSE(intset_contains(&set, v[1] + 1));
}

void
count_interrupt(void *arg)
{
	++*static_cast<int *>(arg);
}

TEST(KeySetAdversarial, LongBuildsCallTheInterruptHook)
{
	int calls = 0;
	Guard guard = guard_make(99, count_interrupt, &calls);
	std::vector<int64_t> v;
	std::mt19937_64 rng(3);
	for (int i = 0; i < 1000000; i++)
		v.push_back(int64_t(rng()));
	TestBudget budget;
	IntSet set;
	ASSERT_EQ(intset_build(&set, v.data(), v.size(), allocator(&budget), &guard), Build::kBuilt);
	EXPECT_GE(calls, int(v.size() / kInterruptEvery));

	calls = 0;
	Table table;
	ASSERT_TRUE(table_init(&table, allocator(&budget), 0, &guard));
	std::vector<uint64_t> keys(300000);
	for (size_t i = 0; i < keys.size(); i++) {
		keys[i] = i;
		ASSERT_EQ(table_insert(
					  &table, hash_bytes(&keys[i], 8, guard.seed), [](const void *) { return false; },
					  [&]() { return static_cast<const void *>(&keys[i]); }),
		          Insert::kAdded);
	}
	EXPECT_GE(calls, int(keys.size() / kInterruptEvery));
	// (a hook that does not return, as CHECK_FOR_INTERRUPTS may not, leaves
	// the sets as PODs in the caller's memory: nothing to undo)
}

TEST(KeySetAdversarial, EqualHashesStopAtTheProbeCap)
{
	// Equal hashes no seed separates (the constraint's own hash functions
	// are unseeded): past max_probe, a clean failure, not a quadratic build.
	TestBudget budget;
	Guard guard = guard_make(1);
	guard.max_probe = 100;
	Table table;
	ASSERT_TRUE(table_init(&table, allocator(&budget), 0, &guard));
	std::vector<int> keys(1000);
	Insert last = Insert::kAdded;
	size_t added = 0;
	for (size_t i = 0; i < keys.size() && last == Insert::kAdded; i++) {
		last = table_insert(
			&table, 42, [](const void *) { return false; }, [&]() { return static_cast<const void *>(&keys[i]); });
		if (last == Insert::kAdded)
			added++;
	}
	EXPECT_EQ(last, Insert::kTooLong);
	EXPECT_EQ(added, 100u);
	EXPECT_EQ(table.count, added);
	// a lookup along that chain fails the same way; others still work
	EXPECT_EQ(table_find(&table, 42, [](const void *) { return false; }), Find::kTooLong);
	EXPECT_EQ(table_find(&table, 7, [](const void *) { return true; }), Find::kAbsent);
}

TEST(KeySetTable, HugeExpectedCountIsClamped)
{
	// reltuples can say anything: the sizing loop must end (it overflowed
	// and looped forever), and the budget then refuses the table.
	TestBudget budget;
	budget.limit = 1 << 20;
	Table table;
	EXPECT_FALSE(table_init(&table, allocator(&budget), UINT64_MAX, &g_guard));
	EXPECT_FALSE(table_init(&table, allocator(&budget), uint64_t(1) << 62, &g_guard));
	EXPECT_TRUE(table_init(&table, allocator(&budget), 1000, &g_guard));
}

TEST(KeySetVector, GrowsUpToItsCap)
{
	TestBudget budget;
	Vector vector;
	vector_init(&vector, allocator(&budget), 6, 2500);
	char element[6] = {1, 2, 3, 4, 5, 6};
	for (int i = 0; i < 2500; i++)
		ASSERT_EQ(vector_push(&vector, element), Push::kPushed) << i;
	EXPECT_EQ(vector_push(&vector, element), Push::kFull);
	EXPECT_EQ(vector.count, 2500u);
	EXPECT_EQ(vector.capacity, 2500u); // grown to the cap, not past it
	EXPECT_EQ(memcmp(vector.data + 6 * 2499, element, 6), 0);
	// and out of budget says so
	Vector small;
	budget.limit = budget.used + 100;
	vector_init(&small, allocator(&budget), 6, 100000);
	EXPECT_EQ(vector_push(&small, element), Push::kNoMemory);
}

} // namespace
