/*
 * table_graph_test.cpp
 *    Unit tests for the load order's graph algorithm (src/load_order/table_graph.cpp).
 *    fk_load_order() over real catalogs is tested by sql/precheck_load_order.sql.
 */
#include "load_order/table_graph.h"

#include <gtest/gtest.h>

#include <vector>

namespace {

using fkg::TableEdge;

struct Result {
	std::vector<int> component;
	std::vector<int> level;
};

Result
order(int ntables, const std::vector<TableEdge> &edges)
{
	Result r{std::vector<int>(static_cast<size_t>(ntables), -1), std::vector<int>(static_cast<size_t>(ntables), -1)};
	fkg::compute_load_order(ntables, edges.data(), static_cast<int>(edges.size()), r.component.data(), r.level.data());
	return r;
}

/* Every edge between components goes from a higher level to a lower one. */
void
expect_parents_first(const Result &r, const std::vector<TableEdge> &edges)
{
	for (const TableEdge &e : edges)
		if (r.component[static_cast<size_t>(e.child)] != r.component[static_cast<size_t>(e.parent)])
			EXPECT_GT(r.level[static_cast<size_t>(e.child)], r.level[static_cast<size_t>(e.parent)])
				<< e.child << " -> " << e.parent;
}

TEST(LoadOrder, NoTablesIsFine)
{
	fkg::compute_load_order(0, nullptr, 0, nullptr, nullptr);
}

TEST(LoadOrder, IndependentTablesAreAllLevelZeroInTheirOwnComponents)
{
	Result r = order(3, {});
	EXPECT_EQ(r.level, (std::vector<int>{0, 0, 0}));
	EXPECT_EQ(r.component, (std::vector<int>{0, 1, 2}));
}

TEST(LoadOrder, AChainLoadsParentsFirst)
{
	/* 0 order_lines -> 1 orders -> 2 customers */
	std::vector<TableEdge> edges{{0, 1}, {1, 2}};
	Result r = order(3, edges);
	EXPECT_EQ(r.level, (std::vector<int>{2, 1, 0}));
	expect_parents_first(r, edges);
}

TEST(LoadOrder, LevelIsTheLongestPathNotTheShortest)
{
	/* 0 -> 1 -> 2 and 0 -> 2 directly: 0 must wait for 1. */
	std::vector<TableEdge> edges{{0, 2}, {0, 1}, {1, 2}};
	Result r = order(3, edges);
	EXPECT_EQ(r.level, (std::vector<int>{2, 1, 0}));
}

TEST(LoadOrder, SelfReferencesDoNotOrderOrFormCycles)
{
	std::vector<TableEdge> edges{{0, 0}, {1, 0}, {1, 1}};
	Result r = order(2, edges);
	EXPECT_EQ(r.level, (std::vector<int>{0, 1}));
	EXPECT_NE(r.component[0], r.component[1]);
}

TEST(LoadOrder, ACycleIsOneComponentOnOneLevel)
{
	/* 0 <-> 1, 2 references 0, 1 references 3. */
	std::vector<TableEdge> edges{{0, 1}, {1, 0}, {2, 0}, {1, 3}};
	Result r = order(4, edges);
	EXPECT_EQ(r.component[0], r.component[1]);
	EXPECT_NE(r.component[0], r.component[2]);
	EXPECT_NE(r.component[0], r.component[3]);
	EXPECT_EQ(r.level[0], 1);
	EXPECT_EQ(r.level[1], 1);
	EXPECT_EQ(r.level[2], 2);
	EXPECT_EQ(r.level[3], 0);
	expect_parents_first(r, edges);
}

TEST(LoadOrder, TwoCyclesJoinedByAnEdgeStayTwoComponents)
{
	/* {0,1} and {2,3} cycles; 0 references 2. */
	std::vector<TableEdge> edges{{0, 1}, {1, 0}, {2, 3}, {3, 2}, {0, 2}};
	Result r = order(4, edges);
	EXPECT_EQ(r.component[0], r.component[1]);
	EXPECT_EQ(r.component[2], r.component[3]);
	EXPECT_NE(r.component[0], r.component[2]);
	EXPECT_EQ(r.level, (std::vector<int>{1, 1, 0, 0}));
}

TEST(LoadOrder, ComponentsAreNumberedByTheirLowestTable)
{
	/* traversal from 0 completes {3} and {1,2} before {0}. */
	std::vector<TableEdge> edges{{0, 1}, {1, 2}, {2, 1}, {2, 3}};
	Result r = order(4, edges);
	EXPECT_EQ(r.component, (std::vector<int>{0, 1, 1, 2}));
}

TEST(LoadOrder, EdgesOutsideTheTablesAreIgnored)
{
	std::vector<TableEdge> edges{{0, 5}, {-1, 0}, {1, 0}};
	Result r = order(2, edges);
	EXPECT_EQ(r.level, (std::vector<int>{0, 1}));
}

TEST(LoadOrder, ALongChainDoesNotExhaustTheStack)
{
	const int n = 200000;
	std::vector<TableEdge> edges;
	for (int i = 0; i + 1 < n; i++)
		edges.push_back({i, i + 1});
	edges.push_back({n - 1, 0}); /* one big cycle */
	Result r = order(n, edges);
	for (int i = 0; i < n; i++)
		ASSERT_EQ(r.component[static_cast<size_t>(i)], 0);
	edges.pop_back();
	r = order(n, edges);
	EXPECT_EQ(r.level[0], n - 1);
	EXPECT_EQ(r.level[static_cast<size_t>(n - 1)], 0);
}

TEST(LoadOrder, ADenseGraphMatchesABruteForceReachabilityCheck)
{
	/* Tables i and j share a component exactly when each reaches the other. */
	const int n = 9;
	std::vector<TableEdge> edges;
	unsigned seed = 12345;
	for (int i = 0; i < n; i++)
		for (int j = 0; j < n; j++) {
			seed = seed * 1103515245u + 12345u;
			if ((seed >> 16) % 5 == 0)
				edges.push_back({i, j});
		}
	std::vector<std::vector<bool>> reach(n, std::vector<bool>(n, false));
	for (int i = 0; i < n; i++)
		reach[i][i] = true;
	for (const TableEdge &e : edges)
		reach[e.child][e.parent] = true;
	for (int k = 0; k < n; k++)
		for (int i = 0; i < n; i++)
			for (int j = 0; j < n; j++)
				if (reach[i][k] && reach[k][j])
					reach[i][j] = true;
	Result r = order(n, edges);
	for (int i = 0; i < n; i++)
		for (int j = 0; j < n; j++)
			EXPECT_EQ(r.component[i] == r.component[j], reach[i][j] && reach[j][i]) << i << ", " << j;
	expect_parents_first(r, edges);
}

} // namespace
