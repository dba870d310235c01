/*
 * constraint_cache.cpp
 *    Backend-local cache of foreign-key descriptions (see constraint_cache.h).
 *
 * Three hash tables in a private memory context: the relations already
 * resolved, every relation a description names (referencing and referenced
 * tables, their partitions), and the constraints keyed by the names an RI
 * error carries.  Resolving reads the catalogs in a scratch context, reset
 * afterwards: the cache keeps only fixed-size entries.  A relcache
 * invalidation of a resolved relation takes it out of the resolved set; one
 * of a named relation (a referenced table renamed, say) or of a schema takes
 * every relation out: the next statement that needs one resolves it again and
 * overwrites its entries.  Entries are never removed one by one: an entry
 * whose relation changed still describes the constraint as it was a moment
 * ago, which is what a deferred violation of that moment needs.  The tables
 * are rebuilt from scratch when they grow past kMaxEntries.
 */
#include "capture/constraint_cache.h"

#include "capture/violation_classify.h"
#include "common/clipped_copy.h"
#include "common/declared_constraint.h"
#include "common/pg_boundary.h"

extern "C" {
#include "access/genam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "catalog/indexing.h"
#include "catalog/pg_class.h"
#include "catalog/pg_constraint.h"
#include "catalog/pg_inherits.h"
#include "catalog/pg_trigger.h"
#include "commands/trigger.h"
#include "lib/stringinfo.h"
#include "utils/array.h" /* DatumGetArrayTypeP, ARR_*: PostgreSQL 18's headers no longer bring it in */
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/hsearch.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/syscache.h"
}

namespace fkg {

static_assert(kNameLength == NAMEDATALEN, "a name field holds any PostgreSQL name");

namespace {

struct ConstraintKey {
	char schema[kNameLength];
	char table[kNameLength];
	char constraint[kNameLength];
};

struct ConstraintEntry {
	ConstraintKey key; /* must be first */
	ConstraintInfo info;
};

/* Past this many described constraints (a session creating and dropping
 * tables all day), the cache starts over: about 2 kB each. */
constexpr long kMaxEntries = 4096;

MemoryContext cache_context = nullptr;
MemoryContext scratch_context = nullptr; /* what resolving reads, reset after each relation */
HTAB *resolved_relations = nullptr;      /* Oid -> Oid (a set) */
HTAB *named_relations = nullptr;         /* Oid -> Oid (a set): relations some entry names */
HTAB *constraints = nullptr;
/* Invalidations that concern the cache: one arriving while a relation is
 * resolved means what was read may be half-old. */
uint64 invalidations = 0;
Oid resolving = InvalidOid;
/* The relation noted last, and the invalidation count then. */
Oid last_noted = InvalidOid;
uint64 last_noted_invalidations = 0;

void add_foreign_keys_of_tree(Oid relid);
void add_foreign_keys_of_triggers(const TriggerDesc *triggers);

/* Forgets that relid (every relation, when InvalidOid) was resolved.  Runs in
 * invalidation callbacks: no catalog access, no allocation. */
void
forget_relation(Oid relid)
{
	if (resolved_relations == nullptr)
		return;
	if (OidIsValid(relid)) {
		bool resolved, named;
		hash_search(resolved_relations, &relid, HASH_REMOVE, &resolved);
		hash_search(named_relations, &relid, HASH_FIND, &named);
		if (resolved || relid == resolving)
			invalidations++;
		if (!named)
			return;
	}
	invalidations++;
	HASH_SEQ_STATUS seq;
	hash_seq_init(&seq, resolved_relations);
	Oid *entry;
	while ((entry = (Oid *) hash_seq_search(&seq)) != nullptr)
		hash_search(resolved_relations, entry, HASH_REMOVE, nullptr);
}

void
make_key(ConstraintKey *key, const char *schema, const char *table, const char *constraint)
{
	memset(key, 0, sizeof(*key));
	copy_truncated(key->schema, sizeof(key->schema), schema);
	copy_truncated(key->table, sizeof(key->table), table);
	copy_truncated(key->constraint, sizeof(key->constraint), constraint);
}

void
create_tables()
{
	if (cache_context == nullptr)
		cache_context = AllocSetContextCreate(TopMemoryContext, "fk_guard constraint cache", ALLOCSET_SMALL_SIZES);
	else
		MemoryContextReset(cache_context);

	HASHCTL ctl = {};
	ctl.keysize = sizeof(Oid);
	ctl.entrysize = sizeof(Oid);
	ctl.hcxt = cache_context;
	resolved_relations = hash_create("fk_guard resolved relations", 64, &ctl, HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	named_relations = hash_create("fk_guard named relations", 64, &ctl, HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);

	ctl.keysize = sizeof(ConstraintKey);
	ctl.entrysize = sizeof(ConstraintEntry);
	constraints = hash_create("fk_guard constraints", 64, &ctl, HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	invalidations++; /* nothing noted before is in the new tables */
}

/* "a, b": the quoted names of attnums of relid. */
void
column_list(char *buf, size_t size, Oid relid, Datum attnums_datum)
{
	ArrayType *array = DatumGetArrayTypeP(attnums_datum);
	int16 *attnums = (int16 *) ARR_DATA_PTR(array);
	int n = ARR_DIMS(array)[0];
	StringInfoData list;
	initStringInfo(&list);
	for (int i = 0; i < n; i++) {
		char *name = get_attname(relid, attnums[i], true);
		appendStringInfo(&list, "%s%s", i > 0 ? ", " : "", name ? quote_identifier(name) : "?");
	}
	copy_clipped(buf, size, list.data);
	pfree(list.data);
}

/* Adds the constraint with this pg_constraint OID, described by its declared ancestor. */
void
add_constraint(Oid conoid)
{
	HeapTuple tuple = SearchSysCache1(CONSTROID, ObjectIdGetDatum(conoid));
	if (!HeapTupleIsValid(tuple))
		return;
	Form_pg_constraint con = (Form_pg_constraint) GETSTRUCT(tuple);
	if (con->contype != CONSTRAINT_FOREIGN) {
		ReleaseSysCache(tuple);
		return;
	}
	char *schema = get_namespace_name(get_rel_namespace(con->conrelid));
	char *table = get_rel_name(con->conrelid);
	ConstraintKey key;
	make_key(&key, schema ? schema : "", table ? table : "", NameStr(con->conname));

	/* Partition clones are described by the constraint the user declared. */
	Oid root_oid = declared_constraint_of(conoid);
	HeapTuple declared = root_oid == conoid ? tuple : SearchSysCache1(CONSTROID, ObjectIdGetDatum(root_oid));
	if (!HeapTupleIsValid(declared))
		declared = tuple;
	Form_pg_constraint root = (Form_pg_constraint) GETSTRUCT(declared);

	bool found;
	ConstraintEntry *entry = (ConstraintEntry *) hash_search(constraints, &key, HASH_ENTER, &found);
	ConstraintInfo &info = entry->info;
	memset(&info, 0, sizeof(info));
	info.resolved = true;
	info.declared_oid = root->oid;
	copy_truncated(info.declared_name, sizeof(info.declared_name), NameStr(root->conname));
	qualified_relation_name(info.child_table, sizeof(info.child_table), root->conrelid);
	qualified_relation_name(info.parent_table, sizeof(info.parent_table), root->confrelid);
	bool isnull;
	Datum conkey = SysCacheGetAttr(CONSTROID, declared, Anum_pg_constraint_conkey, &isnull);
	if (!isnull)
		column_list(info.fk_columns, sizeof(info.fk_columns), root->conrelid, conkey);
	Datum confkey = SysCacheGetAttr(CONSTROID, declared, Anum_pg_constraint_confkey, &isnull);
	if (!isnull)
		column_list(info.parent_columns, sizeof(info.parent_columns), root->confrelid, confkey);
	info.deferrable = root->condeferrable;
	info.initially_deferred = root->condeferred;
	for (Oid named : {con->conrelid, con->confrelid, root->conrelid, root->confrelid})
		hash_search(named_relations, &named, HASH_ENTER, nullptr);
	if (con->conrelid != root->conrelid)
		qualified_relation_name(info.child_partition, sizeof(info.child_partition), con->conrelid);
	if (con->confrelid != root->confrelid)
		qualified_relation_name(info.parent_partition, sizeof(info.parent_partition), con->confrelid);

	if (declared != tuple)
		ReleaseSysCache(declared);
	ReleaseSysCache(tuple);
}

/* The foreign key a pg_constraint row is, or InvalidOid. */
Oid
foreign_key_of_constraint(HeapTuple tuple)
{
	Form_pg_constraint con = (Form_pg_constraint) GETSTRUCT(tuple);
	return con->contype == CONSTRAINT_FOREIGN ? con->oid : InvalidOid;
}

/* The foreign key a pg_trigger row enforces on its referenced table, or InvalidOid. */
Oid
foreign_key_of_trigger(HeapTuple tuple)
{
	Form_pg_trigger trigger = (Form_pg_trigger) GETSTRUCT(tuple);
	return OidIsValid(trigger->tgconstraint) && RI_FKey_trigger_type(trigger->tgfoid) == RI_TRIGGER_PK
	           ? trigger->tgconstraint
	           : InvalidOid;
}

/* Adds the foreign keys found in the rows of catalog whose relid_column
 * (indexed by index) is relid: those declared on relid (pg_constraint) and
 * those referencing it, through their RI action triggers (pg_trigger). */
void
add_foreign_keys(Relation catalog, Oid index, AttrNumber relid_column, Oid relid, Oid (*foreign_key_of)(HeapTuple))
{
	ScanKeyData key;
	ScanKeyInit(&key, relid_column, BTEqualStrategyNumber, F_OIDEQ, ObjectIdGetDatum(relid));
	SysScanDesc scan = systable_beginscan(catalog, index, true, nullptr, 1, &key);
	HeapTuple tuple;
	while (HeapTupleIsValid(tuple = systable_getnext(scan))) {
		Oid conoid = foreign_key_of(tuple);
		if (OidIsValid(conoid))
			add_constraint(conoid);
	}
	systable_endscan(scan);
}

} // namespace

extern "C" void
fkg_relcache_callback(Datum arg, Oid relid)
{
	invoke_quietly([relid]() { forget_relation(relid); });
}

/* A schema renamed or dropped: the qualified names may be stale. */
extern "C" void
fkg_namespace_callback(Datum arg, int cacheid, uint32 hashvalue)
{
	invoke_quietly([]() { forget_relation(InvalidOid); });
}

void
qualified_relation_name(char *buf, size_t size, Oid relid)
{
	char *name = get_rel_name(relid);
	char *schema = get_namespace_name(get_rel_namespace(relid));
	copy_clipped(buf, size, name && schema ? quote_qualified_identifier(schema, name) : "");
}

void
primary_key_columns(char *buf, size_t size, Oid relid)
{
	*buf = '\0';
	Relation pg_constraint = table_open(ConstraintRelationId, AccessShareLock);
	ScanKeyData key;
	ScanKeyInit(&key, Anum_pg_constraint_conrelid, BTEqualStrategyNumber, F_OIDEQ, ObjectIdGetDatum(relid));
	SysScanDesc scan = systable_beginscan(pg_constraint, ConstraintRelidTypidNameIndexId, true, nullptr, 1, &key);
	HeapTuple tuple;
	while (HeapTupleIsValid(tuple = systable_getnext(scan))) {
		if (((Form_pg_constraint) GETSTRUCT(tuple))->contype != CONSTRAINT_PRIMARY)
			continue;
		bool isnull;
		Datum conkey = heap_getattr(tuple, Anum_pg_constraint_conkey, RelationGetDescr(pg_constraint), &isnull);
		if (!isnull)
			column_list(buf, size, relid, conkey);
		break;
	}
	systable_endscan(scan);
	table_close(pg_constraint, AccessShareLock);
}

void
constraint_cache_init()
{
	CacheRegisterRelcacheCallback(fkg_relcache_callback, (Datum) 0);
	CacheRegisterSyscacheCallback(NAMESPACEOID, fkg_namespace_callback, (Datum) 0);
}

void
constraint_cache_note_relation(Oid relid)
{
	constraint_cache_note_open_relation(relid, nullptr);
}

void
constraint_cache_note_open_relation(Oid relid, Relation rel)
{
	/* Statement after statement into the same table: no hash lookup. */
	if (relid == last_noted && invalidations == last_noted_invalidations && constraints != nullptr)
		return;
	if (constraints == nullptr || hash_get_num_entries(constraints) > kMaxEntries)
		create_tables();
	bool found;
	hash_search(resolved_relations, &relid, HASH_FIND, &found);
	if (found)
		return;
	uint64 invalidations_before = invalidations;
	resolving = relid;

	if (scratch_context == nullptr)
		scratch_context = AllocSetContextCreate(TopMemoryContext, "fk_guard constraint cache scratch",
		                                        ALLOCSET_SMALL_SIZES);
	MemoryContext old = MemoryContextSwitchTo(scratch_context);
	if (rel != nullptr && rel->rd_rel->relkind != RELKIND_PARTITIONED_TABLE)
		add_foreign_keys_of_triggers(rel->trigdesc);
	else
		add_foreign_keys_of_tree(relid);
	MemoryContextSwitchTo(old);
	MemoryContextReset(scratch_context);
	resolving = InvalidOid;
	/* An invalidation while resolving may have left half-old data: resolve again next time. */
	if (invalidations == invalidations_before) {
		hash_search(resolved_relations, &relid, HASH_ENTER, &found);
		last_noted = relid;
		last_noted_invalidations = invalidations;
	}
}

namespace {

/* The foreign keys of relid and its partitions, from pg_constraint (declared
 * on them) and pg_trigger (referencing them). */
void
add_foreign_keys_of_tree(Oid relid)
{
	List *relations = get_rel_relkind(relid) == RELKIND_PARTITIONED_TABLE ? find_all_inheritors(relid, NoLock, nullptr)
	                                                                      : list_make1_oid(relid);
	Relation pg_constraint = table_open(ConstraintRelationId, AccessShareLock);
	Relation pg_trigger = table_open(TriggerRelationId, AccessShareLock);
	ListCell *lc;
	foreach (lc, relations) {
		add_foreign_keys(pg_constraint, ConstraintRelidTypidNameIndexId, Anum_pg_constraint_conrelid, lfirst_oid(lc),
		                 foreign_key_of_constraint);
		add_foreign_keys(pg_trigger, TriggerRelidNameIndexId, Anum_pg_trigger_tgrelid, lfirst_oid(lc),
		                 foreign_key_of_trigger);
	}
	table_close(pg_trigger, AccessShareLock);
	table_close(pg_constraint, AccessShareLock);
}

/* The foreign keys of an open relation from its relcache trigger list: each
 * has RI triggers on both of its tables.  The same set as the catalog scans,
 * without opening pg_constraint and pg_trigger on the statement path. */
void
add_foreign_keys_of_triggers(const TriggerDesc *triggers)
{
	/* The constraints first: add_constraint's catalog lookups may process
	 * invalidations that rebuild the relation and free its trigger list. */
	int n = triggers != nullptr ? triggers->numtriggers : 0;
	Oid *constraints_of = (Oid *) palloc(sizeof(Oid) * (n + 1));
	int count = 0;
	for (int i = 0; i < n; i++) {
		const Trigger &trigger = triggers->triggers[i];
		if (OidIsValid(trigger.tgconstraint) && RI_FKey_trigger_type(trigger.tgfoid) != RI_TRIGGER_NONE)
			constraints_of[count++] = trigger.tgconstraint;
	}
	for (int i = 0; i < count; i++)
		add_constraint(constraints_of[i]);
}

} // namespace

bool
constraint_cache_lookup(const char *schema, const char *table, const char *constraint, ConstraintInfo *out)
{
	if (constraints == nullptr || schema == nullptr || table == nullptr || constraint == nullptr)
		return false;
	ConstraintKey key;
	make_key(&key, schema, table, constraint);
	bool found;
	ConstraintEntry *entry = (ConstraintEntry *) hash_search(constraints, &key, HASH_FIND, &found);
	if (!found)
		return false;
	*out = entry->info;
	return true;
}

} // namespace fkg
