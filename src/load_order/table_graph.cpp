/*
 * table_graph.cpp
 *    Tarjan's strongly connected components and topological levels (see
 *    table_graph.h).  No PostgreSQL calls here: the containers below live only
 *    in this file's frames (pg_boundary.h, rule 3).
 */
#include "load_order/table_graph.h"

#include <algorithm>
#include <vector>

namespace fkg {

namespace {

/* The parents of each table, self-references and out-of-range edges dropped. */
std::vector<std::vector<int>>
parents_of(int ntables, const TableEdge *edges, int nedges)
{
	std::vector<std::vector<int>> parents(static_cast<size_t>(ntables));
	for (int e = 0; e < nedges; e++) {
		const TableEdge &edge = edges[e];
		if (edge.child < 0 || edge.child >= ntables || edge.parent < 0 || edge.parent >= ntables ||
		    edge.child == edge.parent)
			continue;
		parents[static_cast<size_t>(edge.child)].push_back(edge.parent);
	}
	return parents;
}

/*
 * Tarjan's algorithm, iterative (a chain of thousands of tables must not
 * exhaust the stack), following child -> parent edges.  A component is
 * completed only after every component it reaches, so the returned list of
 * components (by their tables) is in dependency order: parents first.
 */
std::vector<std::vector<int>>
tarjan(const std::vector<std::vector<int>> &parents)
{
	const int n = static_cast<int>(parents.size());
	std::vector<int> index(static_cast<size_t>(n), -1), lowlink(static_cast<size_t>(n), 0);
	std::vector<char> on_stack(static_cast<size_t>(n), 0);
	std::vector<int> stack;
	std::vector<std::vector<int>> components;
	struct Frame {
		int node;
		size_t next_edge;
	};
	std::vector<Frame> calls;
	int counter = 0;

	for (int root = 0; root < n; root++) {
		if (index[static_cast<size_t>(root)] >= 0)
			continue;
		calls.push_back({root, 0});
		while (!calls.empty()) {
			Frame &frame = calls.back();
			const auto v = static_cast<size_t>(frame.node);
			if (frame.next_edge == 0 && index[v] < 0) {
				index[v] = lowlink[v] = counter++;
				stack.push_back(frame.node);
				on_stack[v] = 1;
			}
			if (frame.next_edge < parents[v].size()) {
				const auto w = static_cast<size_t>(parents[v][frame.next_edge++]);
				if (index[w] < 0)
					calls.push_back({static_cast<int>(w), 0});
				else if (on_stack[w])
					lowlink[v] = std::min(lowlink[v], index[w]);
				continue;
			}
			/* every parent of v visited */
			if (lowlink[v] == index[v]) {
				std::vector<int> component;
				int w;
				do {
					w = stack.back();
					stack.pop_back();
					on_stack[static_cast<size_t>(w)] = 0;
					component.push_back(w);
				} while (w != frame.node);
				components.push_back(std::move(component));
			}
			const int finished = frame.node;
			calls.pop_back();
			if (!calls.empty()) {
				const auto u = static_cast<size_t>(calls.back().node);
				lowlink[u] = std::min(lowlink[u], lowlink[static_cast<size_t>(finished)]);
			}
		}
	}
	return components;
}

} // namespace

void
compute_load_order(int ntables, const TableEdge *edges, int nedges, int *component, int *level)
{
	if (ntables <= 0)
		return;
	const std::vector<std::vector<int>> parents = parents_of(ntables, edges, nedges);
	std::vector<std::vector<int>> components = tarjan(parents);

	/* Levels, parents' components first (Tarjan's completion order). */
	std::vector<int> scc_of(static_cast<size_t>(ntables)), scc_level(components.size(), 0);
	for (size_t c = 0; c < components.size(); c++)
		for (int t : components[c])
			scc_of[static_cast<size_t>(t)] = static_cast<int>(c);
	for (size_t c = 0; c < components.size(); c++)
		for (int t : components[c])
			for (int p : parents[static_cast<size_t>(t)]) {
				const auto pc = static_cast<size_t>(scc_of[static_cast<size_t>(p)]);
				if (pc != c)
					scc_level[c] = std::max(scc_level[c], scc_level[pc] + 1);
			}

	/* Number components by their lowest table, so that the numbers do not
	 * depend on the traversal. */
	std::vector<int> lowest(components.size());
	for (size_t c = 0; c < components.size(); c++)
		lowest[c] = *std::min_element(components[c].begin(), components[c].end());
	std::vector<size_t> order(components.size());
	for (size_t c = 0; c < order.size(); c++)
		order[c] = c;
	std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return lowest[a] < lowest[b]; });
	std::vector<int> number(components.size());
	for (size_t k = 0; k < order.size(); k++)
		number[order[k]] = static_cast<int>(k);

	for (int t = 0; t < ntables; t++) {
		const auto c = static_cast<size_t>(scc_of[static_cast<size_t>(t)]);
		component[t] = number[c];
		level[t] = scc_level[c];
	}
}

} // namespace fkg
