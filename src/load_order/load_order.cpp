/*
 * load_order.cpp
 *    fk_load_order(): the tables in an order that loads parents before
 *    children.  The catalogs are read here through SPI; the graph algorithm is
 *    table_graph.cpp's (pure C++).
 *
 * Only catalog facts are shown (pg_class and pg_constraint, which every role
 * may read), so no table is read and no privilege beyond seeing the table is
 * needed.  Partitions fold into their partitioned table (the root of their
 * tree): a partition is loaded through it.  Foreign keys are the declared
 * ones (pg_constraint.conparentid = 0); one declared on a partition counts
 * for its root.
 */
#include "citus/citus_catalog.h"
#include "common/compat.h"
#include "common/guc.h"
#include "common/pg_boundary.h"
#include "load_order/table_graph.h"

extern "C" {
#include "catalog/partition.h"
#include "catalog/pg_class.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
}

namespace {

/* The tables to order, by name, as roots of their partition trees.  $1 is
 * the given tables (already folded and checked), or NULL for every table the
 * caller can see: a table or partitioned table, not a partition, outside the
 * system schemas and other sessions' temporary schemas, on which the caller
 * holds some privilege and whose schema it may use (what
 * information_schema.tables lists), and not a member of an extension unless
 * $2 (fk_guard.include_extension_tables, as for the all-tables checks). */
const char *const kTablesQuery = R"SQL(
SELECT c.oid
  FROM pg_catalog.pg_class c
  JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
 WHERE CASE WHEN $1 IS NOT NULL THEN c.oid = ANY ($1)
       ELSE c.relkind IN ('r', 'p') AND NOT c.relispartition
        AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname !~ '^pg_toast'
        AND NOT pg_catalog.pg_is_other_temp_schema(n.oid)
        AND pg_catalog.has_schema_privilege(n.oid, 'USAGE')
        AND pg_catalog.has_table_privilege(c.oid, 'SELECT, INSERT, UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER')
        AND ($2 OR NOT EXISTS (SELECT FROM pg_catalog.pg_depend d
                                WHERE d.classid = 'pg_catalog.pg_class'::pg_catalog.regclass AND d.objid = c.oid
                                  AND d.objsubid = 0 AND d.deptype = 'e')) END
 ORDER BY n.nspname COLLATE "C", c.relname COLLATE "C"
)SQL";

/* The declared foreign keys among the tables $1 (in that order, 0-based),
 * each end folded into its partition tree's root; the statement that makes
 * one DEFERRABLE names the table it is declared on. */
const char *const kEdgesQuery = R"SQL(
WITH tables AS (SELECT t.relid, t.idx - 1 AS idx FROM pg_catalog.unnest($1) WITH ORDINALITY t(relid, idx)),
     keys AS (
       SELECT c.conname, c.condeferrable,
              -- (pg_partition_ancestors() of a table outside any partition tree is empty)
              COALESCE((SELECT a.relid FROM pg_catalog.pg_partition_ancestors(c.conrelid) a
                          JOIN pg_catalog.pg_class r ON r.oid = a.relid WHERE NOT r.relispartition),
                       c.conrelid) AS child,
              COALESCE((SELECT a.relid FROM pg_catalog.pg_partition_ancestors(c.confrelid) a
                          JOIN pg_catalog.pg_class r ON r.oid = a.relid WHERE NOT r.relispartition),
                       c.confrelid) AS parent,
              pg_catalog.format('ALTER TABLE %I.%I ALTER CONSTRAINT %I DEFERRABLE;', n.nspname, d.relname,
                                c.conname) AS fix
         FROM pg_catalog.pg_constraint c
         JOIN pg_catalog.pg_class d ON d.oid = c.conrelid
         JOIN pg_catalog.pg_namespace n ON n.oid = d.relnamespace
        WHERE c.contype = 'f' AND c.conparentid = 0)
SELECT ct.idx, pt.idx, k.conname, k.condeferrable, k.fix
  FROM keys k
  JOIN tables ct ON ct.relid = k.child
  JOIN tables pt ON pt.relid = k.parent
 ORDER BY ct.idx, k.conname COLLATE "C"
)SQL";

/* One declared foreign key between two of the tables (palloc'd strings). */
struct KeyEdge {
	int child;
	int parent;
	bool deferrable;
	const char *name;
	const char *fix;
};

/* The root of relid's partition tree (relid itself when not a partition). */
Oid
partition_root(Oid relid)
{
	while (get_rel_relispartition(relid))
		relid = get_partition_parent(relid, true);
	return relid;
}

/* The given tables, checked and folded into their roots, as an oid[]; NULL for all tables. */
Datum
given_tables(FunctionCallInfo fcinfo, bool *isnull)
{
	*isnull = PG_ARGISNULL(0);
	if (*isnull)
		return (Datum) 0;
	ArrayType *array = PG_GETARG_ARRAYTYPE_P(0);
	Datum *elems;
	bool *nulls;
	int n;
	deconstruct_array(array, REGCLASSOID, sizeof(Oid), true, TYPALIGN_INT, &elems, &nulls, &n);
	for (int i = 0; i < n; i++) {
		if (nulls[i])
			ereport(ERROR, (errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED), errmsg("tables must not contain NULL"),
			                errhint("Pass NULL instead of the array to order every table.")));
		Oid relid = DatumGetObjectId(elems[i]);
		char relkind = get_rel_relkind(relid);
		if (relkind == '\0')
			ereport(ERROR, (errcode(ERRCODE_UNDEFINED_TABLE), errmsg("relation with OID %u does not exist", relid)));
		if (relkind != RELKIND_RELATION && relkind != RELKIND_PARTITIONED_TABLE)
			ereport(ERROR, (errcode(ERRCODE_WRONG_OBJECT_TYPE), errmsg("\"%s\" is not a table", get_rel_name(relid)),
			                errdetail("Only tables and partitioned tables are loaded.")));
		elems[i] = ObjectIdGetDatum(partition_root(relid));
	}
	return PointerGetDatum(construct_array(elems, n, OIDOID, sizeof(Oid), true, TYPALIGN_INT));
}

Datum
oid_array(const Oid *oids, int n)
{
	Datum *elems = static_cast<Datum *>(palloc(sizeof(Datum) * (n + 1)));
	for (int i = 0; i < n; i++)
		elems[i] = ObjectIdGetDatum(oids[i]);
	return PointerGetDatum(construct_array(elems, n, OIDOID, sizeof(Oid), true, TYPALIGN_INT));
}

Oid *
read_tables(Datum given, bool given_null, int *count)
{
	Oid argtypes[2] = {OIDARRAYOID, BOOLOID};
	Datum args[2] = {given, BoolGetDatum(fkg::guc::include_extension_tables)};
	char nulls[2] = {given_null ? 'n' : ' ', ' '};
	if (SPI_execute_with_args(kTablesQuery, 2, argtypes, args, nulls, true, 0) != SPI_OK_SELECT)
		elog(ERROR, "fk_guard: table query failed");
	Oid *oids = static_cast<Oid *>(palloc(sizeof(Oid) * (SPI_processed + 1)));
	int n = 0;
	for (uint64 r = 0; r < SPI_processed; r++) {
		bool isnull;
		Oid oid = DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[r], SPI_tuptable->tupdesc, 1, &isnull));
		/* A Citus shard (listed with citus.override_table_visibility = off) is
		 * loaded through its table, as the all-tables checks leave it out. */
		fkg::citus::Shard shard;
		if (given_null && fkg::citus::shard_of_relation(oid, &shard))
			continue;
		oids[n++] = oid;
	}
	*count = n;
	return oids;
}

KeyEdge *
read_edges(const Oid *tables, int ntables, int *count)
{
	Oid argtypes[1] = {OIDARRAYOID};
	Datum args[1] = {oid_array(tables, ntables)};
	if (SPI_execute_with_args(kEdgesQuery, 1, argtypes, args, nullptr, true, 0) != SPI_OK_SELECT)
		elog(ERROR, "fk_guard: foreign key query failed");
	*count = (int) SPI_processed;
	KeyEdge *edges = static_cast<KeyEdge *>(palloc(sizeof(KeyEdge) * (SPI_processed + 1)));
	TupleDesc desc = SPI_tuptable->tupdesc;
	for (uint64 r = 0; r < SPI_processed; r++) {
		HeapTuple row = SPI_tuptable->vals[r];
		bool isnull;
		edges[r].child = (int) DatumGetInt64(SPI_getbinval(row, desc, 1, &isnull));
		edges[r].parent = (int) DatumGetInt64(SPI_getbinval(row, desc, 2, &isnull));
		edges[r].name = SPI_getvalue(row, desc, 3);
		edges[r].deferrable = DatumGetBool(SPI_getbinval(row, desc, 4, &isnull));
		edges[r].fix = SPI_getvalue(row, desc, 5);
	}
	return edges;
}

struct SortKey {
	int level;
	int component;
	int table;
};

int
compare_sort_keys(const void *a, const void *b)
{
	const auto *x = static_cast<const SortKey *>(a);
	const auto *y = static_cast<const SortKey *>(b);
	if (x->level != y->level)
		return x->level < y->level ? -1 : 1;
	if (x->component != y->component)
		return x->component < y->component ? -1 : 1;
	return x->table < y->table ? -1 : (x->table > y->table ? 1 : 0);
}

} // namespace

/* fk_load_order(tables regclass[]) */
FKG_FUNCTION(fk_load_order)
{
	bool given_null;
	Datum given = given_tables(fcinfo, &given_null);
	ReturnSetInfo *rsinfo = fkg::compat::init_materialized_srf(fcinfo);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "fk_guard: SPI_connect failed");

	int ntables = 0, nedges = 0;
	Oid *tables = read_tables(given, given_null, &ntables);
	KeyEdge *keys = read_edges(tables, ntables, &nedges);
	fkg::TableEdge *edges = static_cast<fkg::TableEdge *>(palloc(sizeof(fkg::TableEdge) * (nedges + 1)));
	for (int e = 0; e < nedges; e++)
		edges[e] = fkg::TableEdge{keys[e].child, keys[e].parent};
	int *component = static_cast<int *>(palloc(sizeof(int) * (ntables + 1)));
	int *level = static_cast<int *>(palloc(sizeof(int) * (ntables + 1)));
	fkg::compute_load_order(ntables, edges, nedges, component, level);

	/* Per component: its size, whether all its foreign keys are DEFERRABLE,
	 * and the number users see for it (cycles only, in output order). */
	int *size = static_cast<int *>(palloc0(sizeof(int) * (ntables + 1)));
	bool *deferrable = static_cast<bool *>(palloc(sizeof(bool) * (ntables + 1)));
	int *shown = static_cast<int *>(palloc0(sizeof(int) * (ntables + 1)));
	for (int t = 0; t < ntables; t++) {
		size[component[t]]++;
		deferrable[t] = true;
	}
	for (int e = 0; e < nedges; e++)
		if (keys[e].child != keys[e].parent && component[keys[e].child] == component[keys[e].parent] &&
		    !keys[e].deferrable)
			deferrable[component[keys[e].child]] = false;

	/* Output order: level, then cycle (a cycle's tables together, where its
	 * first table's name puts them), then name (the tables' order). */
	SortKey *order = static_cast<SortKey *>(palloc(sizeof(SortKey) * (ntables + 1)));
	for (int t = 0; t < ntables; t++)
		order[t] = SortKey{level[t], component[t], t};
	qsort(order, ntables, sizeof(SortKey), compare_sort_keys);

	MemoryContext old = MemoryContextSwitchTo(rsinfo->econtext->ecxt_per_query_memory);
	int cycles = 0;
	for (int i = 0; i < ntables; i++) {
		CHECK_FOR_INTERRUPTS();
		int t = order[i].table;
		int c = component[t];
		bool in_cycle = size[c] > 1;
		if (in_cycle && shown[c] == 0)
			shown[c] = ++cycles;

		Datum *self = static_cast<Datum *>(palloc(sizeof(Datum) * (nedges + 1)));
		int nself = 0;
		StringInfoData fix;
		initStringInfo(&fix);
		for (int e = 0; e < nedges; e++) {
			if (keys[e].child != t)
				continue;
			if (keys[e].parent == t)
				self[nself++] = DirectFunctionCall1(namein, CStringGetDatum(keys[e].name));
			else if (component[keys[e].parent] == c && !keys[e].deferrable)
				appendStringInfo(&fix, "%s%s", fix.len > 0 ? "\n" : "", keys[e].fix);
		}
		Datum values[6] = {Int32GetDatum(level[t]),
		                   ObjectIdGetDatum(tables[t]),
		                   Int32GetDatum(shown[c]),
		                   BoolGetDatum(deferrable[c]),
		                   PointerGetDatum(construct_array(self, nself, NAMEOID, NAMEDATALEN, false, TYPALIGN_CHAR)),
		                   CStringGetTextDatum(fix.data)};
		bool nulls[6] = {false, false, !in_cycle, !in_cycle, nself == 0, fix.len == 0};
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	MemoryContextSwitchTo(old);
	SPI_finish();
	return (Datum) 0;
}
