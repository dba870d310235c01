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

bool
contains(const Table &table, const std::string &key)
{
	return table_find(&table, hash_bytes(key.data(), key.size()), [&](const void *stored) {
		       return *static_cast<const std::string *>(stored) == key;
	       }) != nullptr;
}

TEST(KeySetHash, NeverZeroAndStable)
{
	EXPECT_NE(hash_bytes("", 0), 0u);
	EXPECT_EQ(hash_bytes("abcdefghij", 10), hash_bytes("abcdefghij", 10));
	EXPECT_NE(hash_bytes("abcdefghij", 10), hash_bytes("abcdefghik", 10));
	// a trailing zero byte is part of the key
	EXPECT_NE(hash_bytes("ab\0", 3), hash_bytes("ab", 2));
	EXPECT_NE(combine(0, 0), 0u);
}

TEST(KeySetTable, FindsWhatWasInsertedAcrossGrowth)
{
	TestBudget budget;
	Table table;
	ASSERT_TRUE(table_init(&table, allocator(&budget), 0));
	std::vector<std::string> keys;
	for (int i = 0; i < 5000; i++)
		keys.push_back("key" + std::to_string(i * 7));
	for (const std::string &k : keys) {
		Insert r = table_insert(
		    &table, hash_bytes(k.data(), k.size()),
		    [&](const void *stored) { return *static_cast<const std::string *>(stored) == k; },
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
	              &table, hash_bytes(again.data(), again.size()),
	              [&](const void *stored) { return *static_cast<const std::string *>(stored) == again; },
	              [&]() { return static_cast<const void *>(&again); }),
	          Insert::kPresent);
	EXPECT_EQ(table.count, keys.size());
}

TEST(KeySetTable, CollidingHashesAreTellApartByEquality)
{
	TestBudget budget;
	Table table;
	ASSERT_TRUE(table_init(&table, allocator(&budget), 0));
	std::vector<std::string> keys = {"a", "b", "c", "d"};
	for (const std::string &k : keys)
		table_insert(
		    &table, 42, [&](const void *stored) { return *static_cast<const std::string *>(stored) == k; },
		    [&]() { return static_cast<const void *>(&k); });
	EXPECT_EQ(table.count, 4u);
	for (const std::string &k : keys)
		EXPECT_NE(table_find(&table, 42,
		                     [&](const void *stored) { return *static_cast<const std::string *>(stored) == k; }),
		          nullptr);
	EXPECT_EQ(table_find(&table, 42, [&](const void *stored) { return *static_cast<const std::string *>(stored) == "e"; }),
	          nullptr);
}

TEST(KeySetTable, ReportsTheBudgetInsteadOfGrowingPastIt)
{
	TestBudget budget;
	budget.limit = 64 * sizeof(Slot) + 1000;
	Table table;
	ASSERT_TRUE(table_init(&table, allocator(&budget), 0));
	std::vector<std::string> keys;
	for (int i = 0; i < 100; i++)
		keys.push_back(std::to_string(i));
	Insert last = Insert::kAdded;
	int added = 0;
	for (const std::string &k : keys) {
		last = table_insert(
		    &table, hash_bytes(k.data(), k.size()),
		    [&](const void *stored) { return *static_cast<const std::string *>(stored) == k; },
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
	ASSERT_TRUE(intset_build(&set, values.data(), values.size(), allocator(&budget)));
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
	ASSERT_TRUE(intset_build(&set, nullptr, 0, allocator(&budget)));
	EXPECT_FALSE(intset_contains(&set, 0));
	// the whole int64 range cannot be stored as offsets plus one: the caller falls back
	std::vector<int64_t> v = {INT64_MIN, INT64_MAX};
	EXPECT_FALSE(intset_build(&set, v.data(), v.size(), allocator(&budget)));
	// and a set past its budget says so
	std::vector<int64_t> dense(1000);
	for (int i = 0; i < 1000; i++)
		dense[i] = i * 100000;
	budget.limit = budget.used + 16;
	EXPECT_FALSE(intset_build(&set, dense.data(), dense.size(), allocator(&budget)));
}

} // namespace
