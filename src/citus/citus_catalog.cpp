/*
 * citus_catalog.cpp
 *    Citus tables and shards, read from pg_dist_partition and pg_dist_shard
 *    (see the header).  Plain catalog scans: nothing here calls Citus.
 */
#include "citus/citus_catalog.h"

#include <cstdlib>
#include <cstring>

extern "C" {
#include "access/genam.h"
#include "access/htup_details.h"
#include "access/skey.h"
#include "access/stratnum.h"
#include "access/table.h"
#include "catalog/namespace.h"
#include "catalog/pg_class.h"
#include "catalog/pg_constraint.h"
#include "catalog/pg_namespace.h"
#include "common/hashfn.h"
#include "mb/pg_wchar.h"
#include "commands/extension.h"
#include "nodes/primnodes.h"
#include "nodes/readfuncs.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/syscache.h"
}

namespace fkg::citus {

namespace {

/* Attribute numbers in Citus's catalogs (stable since Citus 5). */
constexpr AttrNumber kPartitionLogicalRelid = 1; /* pg_dist_partition.logicalrelid */
constexpr AttrNumber kShardId = 2;               /* pg_dist_shard.shardid */
constexpr AttrNumber kPartitionMethod = 2;       /* pg_dist_partition.partmethod: 'h'ash, 'n'one, ... */
constexpr AttrNumber kPartitionKey = 3;     /* pg_dist_partition.partkey: the distribution column, a Var's node text */
constexpr AttrNumber kColocationId = 4;     /* pg_dist_partition.colocationid */
constexpr AttrNumber kReplicationModel = 5; /* pg_dist_partition.repmodel: 't' for reference tables */

/* Whether catalog (a table in pg_catalog) has a row whose column attno equals
 * value under procedure (an equality function); *first gets that row's
 * logicalrelid (column 1 of both catalogs) when not null. */
bool
catalog_has_row(const char *catalog, AttrNumber attno, RegProcedure procedure, Datum value, Oid *first)
{
	Oid catalog_relid = get_relname_relid(catalog, PG_CATALOG_NAMESPACE);
	if (!OidIsValid(catalog_relid))
		return false;
	Relation rel = table_open(catalog_relid, AccessShareLock);
	ScanKeyData key;
	ScanKeyInit(&key, attno, BTEqualStrategyNumber, procedure, value);
	SysScanDesc scan = systable_beginscan(rel, InvalidOid, false, nullptr, 1, &key);
	HeapTuple tuple = systable_getnext(scan);
	bool found = HeapTupleIsValid(tuple);
	if (found && first != nullptr) {
		bool isnull;
		Datum relid = heap_getattr(tuple, 1, RelationGetDescr(rel), &isnull);
		*first = isnull ? InvalidOid : DatumGetObjectId(relid);
	}
	systable_endscan(scan);
	table_close(rel, AccessShareLock);
	return found;
}

/*
 * The name Citus gives the copy of object name in shard shard_id (its
 * AppendShardIdToName): name_<shard id>, or, when that would not fit in a
 * name, name clipped, an underscore, the hash of the whole name in 8 hex
 * digits and _<shard id>.
 */
void
shard_object_name(const char *name, int64 shard_id, char out[NAMEDATALEN])
{
	char suffix[32];
	snprintf(suffix, sizeof(suffix), "_" INT64_FORMAT, shard_id);
	int length = (int) strlen(name), suffix_length = (int) strlen(suffix);
	if (length < NAMEDATALEN - suffix_length) {
		snprintf(out, NAMEDATALEN, "%s%s", name, suffix);
		return;
	}
	uint32 hash = DatumGetUInt32(hash_any(reinterpret_cast<const unsigned char *>(name), length));
	int clip = pg_mbcliplen(name, length, NAMEDATALEN - suffix_length - 10);
	snprintf(out, NAMEDATALEN, "%.*s_%.8x%s", clip, name, hash, suffix);
}

/* The owner of relid, or InvalidOid when it is gone. */
Oid
relation_owner(Oid relid)
{
	HeapTuple tuple = SearchSysCache1(RELOID, ObjectIdGetDatum(relid));
	if (!HeapTupleIsValid(tuple))
		return InvalidOid;
	Oid owner = ((Form_pg_class) GETSTRUCT(tuple))->relowner;
	ReleaseSysCache(tuple);
	return owner;
}

} // namespace

bool
installed()
{
	return OidIsValid(get_extension_oid("citus", true));
}

bool
is_citus_table(Oid relid)
{
	return installed() &&
	       catalog_has_row("pg_dist_partition", kPartitionLogicalRelid, F_OIDEQ, ObjectIdGetDatum(relid), nullptr);
}

bool
table_facts(Oid relid, TableFacts *facts)
{
	if (!installed())
		return false;
	Oid catalog_relid = get_relname_relid("pg_dist_partition", PG_CATALOG_NAMESPACE);
	if (!OidIsValid(catalog_relid))
		return false;
	Relation rel = table_open(catalog_relid, AccessShareLock);
	ScanKeyData key;
	ScanKeyInit(&key, kPartitionLogicalRelid, BTEqualStrategyNumber, F_OIDEQ, ObjectIdGetDatum(relid));
	SysScanDesc scan = systable_beginscan(rel, InvalidOid, false, nullptr, 1, &key);
	HeapTuple tuple = systable_getnext(scan);
	bool found = HeapTupleIsValid(tuple);
	if (found) {
		TupleDesc desc = RelationGetDescr(rel);
		bool isnull;
		char method = DatumGetChar(heap_getattr(tuple, kPartitionMethod, desc, &isnull));
		Datum partkey = heap_getattr(tuple, kPartitionKey, desc, &isnull);
		bool has_key = !isnull;
		uint32 colocation = DatumGetUInt32(heap_getattr(tuple, kColocationId, desc, &isnull));
		char model = DatumGetChar(heap_getattr(tuple, kReplicationModel, desc, &isnull));
		facts->kind = method == 'n' && model == 't'      ? "reference"
		              : method != 'n' || colocation != 0 ? "distributed"
		                                                 : "local";
		facts->distribution_column = InvalidAttrNumber;
		if (has_key) {
			Node *node = static_cast<Node *>(stringToNode(TextDatumGetCString(partkey)));
			if (node != nullptr && IsA(node, Var))
				facts->distribution_column = castNode(Var, node)->varattno;
		}
	}
	systable_endscan(scan);
	table_close(rel, AccessShareLock);
	return found;
}

bool
shard_of_relation(Oid relid, Shard *shard)
{
	char *name = get_rel_name(relid);
	if (name == nullptr)
		return false;
	/* <table>_<digits>: the digits are a shard id */
	const char *underscore = strrchr(name, '_');
	if (underscore == nullptr || underscore == name || underscore[1] == '\0' ||
	    strspn(underscore + 1, "0123456789") != strlen(underscore + 1) || strlen(underscore + 1) > 18)
		return false;
	if (!installed())
		return false;
	int64 shard_id = strtoll(underscore + 1, nullptr, 10);
	Oid logical = InvalidOid;
	if (!catalog_has_row("pg_dist_shard", kShardId, F_INT8EQ, Int64GetDatum(shard_id), &logical) ||
	    !OidIsValid(logical) || logical == relid)
		return false;
	/* Citus names a shard after its table, in the table's schema, and gives
	 * it the table's owner.  The owner is what a name cannot forge: a role
	 * that may create tables in that schema could otherwise name its own
	 * table after a shard another node holds, hiding its foreign keys from
	 * the all-tables checks and recording its violations under the
	 * table's constraint. */
	char *table = get_rel_name(logical);
	if (table == nullptr || get_rel_namespace(logical) != get_rel_namespace(relid) ||
	    relation_owner(logical) != relation_owner(relid))
		return false;
	char expected[NAMEDATALEN];
	shard_object_name(table, shard_id, expected);
	if (strcmp(expected, name) != 0)
		return false;
	shard->shard_id = shard_id;
	shard->logical_relid = logical;
	return true;
}

Oid
declared_constraint_of_shard(Oid conoid)
{
	HeapTuple tuple = SearchSysCache1(CONSTROID, ObjectIdGetDatum(conoid));
	if (!HeapTupleIsValid(tuple))
		return InvalidOid;
	Form_pg_constraint con = (Form_pg_constraint) GETSTRUCT(tuple);
	Oid relid = con->conrelid;
	NameData name = con->conname;
	ReleaseSysCache(tuple);
	Shard shard;
	if (!OidIsValid(relid) || !shard_of_relation(relid, &shard))
		return InvalidOid;
	/* The table's constraint whose shard copy has this name (a long name's
	 * copy ends in a hash, so names are compared the way Citus makes them). */
	Oid declared = InvalidOid;
	Relation rel = table_open(ConstraintRelationId, AccessShareLock);
	ScanKeyData key;
	ScanKeyInit(&key, Anum_pg_constraint_conrelid, BTEqualStrategyNumber, F_OIDEQ,
	            ObjectIdGetDatum(shard.logical_relid));
	SysScanDesc scan = systable_beginscan(rel, ConstraintRelidTypidNameIndexId, true, nullptr, 1, &key);
	HeapTuple candidate;
	while (!OidIsValid(declared) && HeapTupleIsValid(candidate = systable_getnext(scan))) {
		Form_pg_constraint c = (Form_pg_constraint) GETSTRUCT(candidate);
		char expected[NAMEDATALEN];
		shard_object_name(NameStr(c->conname), shard.shard_id, expected);
		if (strcmp(expected, NameStr(name)) == 0)
			declared = c->oid;
	}
	systable_endscan(scan);
	table_close(rel, AccessShareLock);
	return declared;
}

} // namespace fkg::citus
