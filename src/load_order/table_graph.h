/*
 * table_graph.h
 *    The order to load tables in so that parents come before children: the
 *    foreign-key graph's strongly connected components (Tarjan) and their
 *    topological levels.  Pure C++ (no PostgreSQL calls), unit tested without
 *    a server (test/unit/table_graph_test.cpp); fk_load_order() reads the
 *    catalogs and calls it (load_order.cpp).
 */
#ifndef FK_GUARD_TABLE_GRAPH_H
#define FK_GUARD_TABLE_GRAPH_H

namespace fkg {

/* A foreign key: table child references table parent (indices of the tables). */
struct TableEdge {
	int child;
	int parent;
};

/*
 * For ntables tables and the foreign keys among them (an edge whose ends are
 * equal, a self-reference, does not constrain the order), fills, for each
 * table i:
 *   component[i]  its strongly connected component: tables that reference each
 *                 other through a cycle of foreign keys share one, and no
 *                 order loads them parents first.  Components are numbered
 *                 from 0 in the order of their first (lowest-index) table.
 *   level[i]      0 when its component references no other component, else
 *                 one more than the highest level of a component it references:
 *                 loading level by level loads every parent before its children.
 * Both arrays hold ntables entries, supplied by the caller.  Edges naming a
 * table outside [0, ntables) are ignored.  Throws std::bad_alloc only.
 */
void compute_load_order(int ntables, const TableEdge *edges, int nedges, int *component, int *level);

} // namespace fkg

#endif /* FK_GUARD_TABLE_GRAPH_H */
