/*
 * citus_catalog.h
 *    What fk_guard needs to know about Citus, read from Citus's catalog tables
 *    (pg_dist_partition, pg_dist_shard) when the citus extension is installed.
 *
 * fk_guard never links against Citus: it finds Citus's tables by name in
 * pg_catalog at run time, and without the extension every answer is "not a
 * Citus table", at the cost of one pg_extension lookup.
 */
#ifndef FK_GUARD_CITUS_CATALOG_H
#define FK_GUARD_CITUS_CATALOG_H

extern "C" {
#include "postgres.h"
#include "access/attnum.h"
}

namespace fkg::citus {

/* Whether the citus extension is installed in this database. */
bool installed();

/* Whether relid is a Citus table (distributed, reference or Citus local: a row
 * of pg_dist_partition): its rows live in shards, which only a query through
 * Citus's planner reads; the relation itself (the shell) holds none. */
bool is_citus_table(Oid relid);

/* What Citus makes of a table (pg_dist_partition). */
struct TableFacts {
	const char *kind;               /* "distributed", "reference" or "local" (a Citus local table) */
	AttrNumber distribution_column; /* InvalidAttrNumber when it has none */
};

/* Whether relid is a Citus table; fills *facts when it is. */
bool table_facts(Oid relid, TableFacts *facts);

/* A shard, and the Citus table it belongs to. */
struct Shard {
	int64 shard_id;
	Oid logical_relid; /* the Citus table whose shard it is */
};

/* Whether relid is a shard of a Citus table on this node (a relation named
 * <table>_<shard id> in the table's schema, the shard id one of the table's
 * in pg_dist_shard, owned by the table's owner, as Citus makes shards); fills
 * *shard when it is. */
bool shard_of_relation(Oid relid, Shard *shard);

/* The constraint of a Citus table that conoid, a constraint of one of its
 * shards, was created from (Citus names it <constraint>_<shard id> on
 * <table>_<shard id>); InvalidOid when conoid is not a shard's constraint. */
Oid declared_constraint_of_shard(Oid conoid);

} // namespace fkg::citus

#endif /* FK_GUARD_CITUS_CATALOG_H */
