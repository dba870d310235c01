/*
 * one_pass.cpp
 *    The one-pass orphan engine (see one_pass.h).
 *
 * Boundary (pg_boundary.h, rules 2 and 5): every frame here calls PostgreSQL
 * and holds only PODs; the key sets are key_set.h's PODs over palloc'd memory
 * of the pass's memory context, released with that context.
 */
#include "orphans/one_pass.h"

#include "common/compat.h"
#include "common/guc.h"
#include "common/owner_identity.h"
#include "orphans/key_set.h"

extern "C" {
#include "access/genam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "access/tableam.h"
#include "catalog/pg_class.h"
#include "catalog/pg_collation.h"
#include "catalog/pg_constraint.h"
#include "catalog/pg_inherits.h"
#include "catalog/pg_operator.h"
#include "catalog/pg_type.h"
#include "common/pg_prng.h"
#include "executor/tuptable.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "parser/parse_coerce.h"
#include "portability/instr_time.h"
#include "storage/lmgr.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/uuid.h"
#include "utils/fmgroids.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"
#include "utils/typcache.h"
}

namespace fkg {

namespace {

/* How a key column's values are compared. */
enum class ColumnKind {
	kInt,     /* int2/int4/int8 on either side: compared as int64 */
	kText,    /* texteq under a deterministic collation: compared as bytes */
	kUuid,    /* uuid_eq: 16 bytes */
	kGeneric, /* the operator's function through fmgr */
};

struct ColumnPlan {
	AttrNumber fk_attno; /* in the referencing table (the partitioned one, when it is) */
	AttrNumber pk_attno;
	Oid left_type; /* the operator's input types (pk, fk) */
	Oid right_type;
	Oid eq_function;
	Oid pk_hash;
	Oid fk_hash;
	Oid collation; /* the referenced column's: the one the planner's path compares under */
	ColumnKind kind;
	Oid distinct_eq; /* missing keys are distinct under the fk type's own equality (summaries) */
	Oid distinct_hash;
};

/* The tables a key reads on one side: the table itself, or the leaf
 * partitions of a partitioned one (palloc'd). */
struct Leaves {
	Oid *relids;
	int count;
	double tuples; /* their reltuples, summed */
};

struct KeyPlan {
	EngineChoice choice;
	int ncolumns;
	ColumnPlan columns[INDEX_MAX_KEYS];
	Leaves parent; /* the tables holding the referenced rows */
	Leaves child;  /* ... and the referencing rows, in tableoid order */
};

bool
is_int_equality(Oid function)
{
	switch (function) {
	case F_INT2EQ:
	case F_INT4EQ:
	case F_INT8EQ:
	case F_INT24EQ:
	case F_INT42EQ:
	case F_INT28EQ:
	case F_INT82EQ:
	case F_INT48EQ:
	case F_INT84EQ:
		return true;
	default:
		return false;
	}
}

EngineChoice
planner(const char *reason)
{
	return EngineChoice{Engine::kPlanner, reason};
}

/* Which side of the foreign key a table is on, for the reasons given. */
enum class Side { kReferencing, kReferenced };

/* relkind and relrowsecurity of a relation, from the syscache.  Either table
 * may be partitioned (table_leaves() reads its leaves); row-level security is
 * what a query on it applies: its own, not its partitions'. */
bool
plain_table_without_rls(Oid relid, const char **reason, Side side)
{
	bool referenced = side == Side::kReferenced;
	HeapTuple tuple = SearchSysCache1(RELOID, ObjectIdGetDatum(relid));
	if (!HeapTupleIsValid(tuple)) {
		*reason = "a table was dropped";
		return false;
	}
	Form_pg_class form = (Form_pg_class) GETSTRUCT(tuple);
	bool ok = true;
	if (form->relkind != RELKIND_RELATION && form->relkind != RELKIND_PARTITIONED_TABLE) {
		*reason = referenced ? "the referenced table is not a table" : "the referencing table is not a table";
		ok = false;
	} else if (form->relrowsecurity) {
		*reason = referenced ? "row-level security is enabled on the referenced table"
		                     : "row-level security is enabled on the referencing table";
		ok = false;
	}
	ReleaseSysCache(tuple);
	return ok;
}

/*
 * Fills *out: relid itself, or, when it is partitioned, every leaf partition
 * under it, which a query on it reads (its partitions' row security and
 * privileges are not applied there, nor by the pass, which reads them
 * directly), in OID order: the order of tableoid, by which the planner's path
 * sorts the rows of a partitioned referencing table.  Each is locked
 * AccessShareLock, as that query locks them.  False, with *reason, when the
 * key is left to the planner's path: a partition left detach-pending (whether
 * a query on the partitioned table reads it depends on the snapshot), or one
 * that is not a plain table (a foreign table).
 */
bool
table_leaves(Oid relid, bool partitioned, Side side, Leaves *out, const char **reason)
{
	bool referenced = side == Side::kReferenced;
	int capacity = 8, n = 0;
	Oid *leaves = static_cast<Oid *>(palloc(sizeof(Oid) * capacity));
	Oid *pending = static_cast<Oid *>(palloc(sizeof(Oid) * capacity)); /* partitioned tables to expand */
	int npending = 0, pending_capacity = capacity;
	double tuples = 0;
	bool ok = true;
	if (!partitioned)
		leaves[n++] = relid;
	else
		pending[npending++] = relid;
	Relation inherits = npending > 0 ? table_open(InheritsRelationId, AccessShareLock) : nullptr;
	while (ok && npending > 0) {
		Oid parent = pending[--npending];
		ScanKeyData key;
		ScanKeyInit(&key, Anum_pg_inherits_inhparent, BTEqualStrategyNumber, F_OIDEQ, ObjectIdGetDatum(parent));
		SysScanDesc scan = systable_beginscan(inherits, InheritsParentIndexId, true, nullptr, 1, &key);
		HeapTuple tuple;
		while (ok && HeapTupleIsValid(tuple = systable_getnext(scan))) {
			Form_pg_inherits form = (Form_pg_inherits) GETSTRUCT(tuple);
			if (form->inhdetachpending) {
				*reason = referenced ? "a partition of the referenced table is detach-pending"
				                     : "a partition of the referencing table is detach-pending";
				ok = false;
				break;
			}
			Oid child = form->inhrelid;
			LockRelationOid(child, AccessShareLock);
			char relkind = get_rel_relkind(child);
			if (relkind == RELKIND_PARTITIONED_TABLE) {
				if (npending == pending_capacity) {
					pending_capacity *= 2;
					pending = static_cast<Oid *>(repalloc(pending, sizeof(Oid) * pending_capacity));
				}
				pending[npending++] = child;
			} else if (relkind == RELKIND_RELATION) {
				if (n == capacity) {
					capacity *= 2;
					leaves = static_cast<Oid *>(repalloc(leaves, sizeof(Oid) * capacity));
				}
				leaves[n++] = child;
			} else {
				*reason = relkind == '\0' ? "a table was dropped"
				          : referenced    ? "a partition of the referenced table is not a plain table"
				                          : "a partition of the referencing table is not a plain table";
				ok = false;
			}
		}
		systable_endscan(scan);
	}
	if (inherits != nullptr)
		table_close(inherits, AccessShareLock);
	pfree(pending);
	for (int i = 0; ok && i < n; i++) {
		HeapTuple tuple = SearchSysCache1(RELOID, ObjectIdGetDatum(leaves[i]));
		if (!HeapTupleIsValid(tuple)) {
			*reason = "a table was dropped";
			ok = false;
			break;
		}
		tuples += Max(((Form_pg_class) GETSTRUCT(tuple))->reltuples, 0);
		ReleaseSysCache(tuple);
	}
	if (!ok) {
		pfree(leaves);
		return false;
	}
	qsort(leaves, n, sizeof(Oid), oid_cmp);
	*out = Leaves{leaves, n, tuples};
	return true;
}

/* Bytes per referenced key that auto mode's estimate assumes. */
double
estimated_key_bytes(const KeyPlan &plan)
{
	if (plan.ncolumns == 1 && plan.columns[0].kind == ColumnKind::kInt)
		return 12.0; /* the collected int64s, then a bitmap or a 4-byte slot table */
	return 64.0;     /* a 16-byte slot at 70% load, a key copy and arena slack */
}

/* The type whose equality makes missing keys distinct: the fk column as the
 * operator takes it (cast to its right input, unless that is polymorphic). */
Oid
distinct_type(Oid fk_type, Oid right_type)
{
	return IsPolymorphicType(right_type) ? getBaseType(fk_type) : right_type;
}

/* The schema of a pg_operator, pg_collation or pg_type row (InvalidOid if gone). */
Oid
namespace_of(SysCacheIdentifier cache, Oid object)
{
	HeapTuple tuple = SearchSysCache1(cache, ObjectIdGetDatum(object));
	if (!HeapTupleIsValid(tuple))
		return InvalidOid;
	Oid nsp = InvalidOid;
	switch (cache) {
	case OPEROID:
		nsp = ((Form_pg_operator) GETSTRUCT(tuple))->oprnamespace;
		break;
	case COLLOID:
		nsp = ((Form_pg_collation) GETSTRUCT(tuple))->collnamespace;
		break;
	case TYPEOID:
		nsp = ((Form_pg_type) GETSTRUCT(tuple))->typnamespace;
		break;
	default:
		break;
	}
	ReleaseSysCache(tuple);
	return nsp;
}

bool
may_use(SysCacheIdentifier cache, Oid object, Oid role)
{
	Oid nsp = namespace_of(cache, object);
	return OidIsValid(nsp) && compat::may_use_namespace(nsp, role);
}

/*
 * Whether checker may do what the planner's path does for one key column:
 * name the operator (OPERATOR(schema.op): USAGE on its schema), the
 * collation of a COLLATE clause and the types of casts (USAGE on their
 * schemas), and execute the operator's function (EXECUTE), as the query's
 * parser and executor check.  The one pass calls that function itself, so a
 * key the owner may not check this way is left to the planner's path, which
 * raises PostgreSQL's own "permission denied".  (Hash support functions are
 * not checked: PostgreSQL does not check them either.)
 */
const char *
planner_privilege_missing(Oid checker, Oid eq_operator, Oid eq_function, Oid pk_type, Oid fk_type, Oid fk_collation,
                          const ColumnPlan &column)
{
	if (!may_use(OPEROID, eq_operator, checker))
		return "the referencing table's owner may not use the schema of the key's equality operator";
	if (OidIsValid(column.collation) && column.collation != fk_collation &&
	    !may_use(COLLOID, column.collation, checker))
		return "the referencing table's owner may not use the schema of the collation the key is compared under";
	if ((pk_type != column.left_type && !may_use(TYPEOID, column.left_type, checker)) ||
	    (fk_type != column.right_type && !may_use(TYPEOID, column.right_type, checker)))
		return "the referencing table's owner may not use the schema of a type a key column is cast to";
	if (!compat::may_execute(eq_function, checker))
		return "the referencing table's owner may not execute the key's equality function";
	return nullptr;
}

/* Fills plan for fk; plan->choice says whether the pass takes it.
 * *estimated: the bytes auto mode estimates for the keys of the same table
 * given the pass so far (the pass's budget is shared), updated. */
void
plan_key(const DeclaredForeignKey &fk, Report report, KeyPlan *plan, double *estimated)
{
	const ForeignKeySpec &spec = fk.spec;
	plan->ncolumns = 0;
	plan->parent = Leaves{nullptr, 0, 0};
	plan->child = Leaves{nullptr, 0, 0};
	plan->choice = EngineChoice{Engine::kOnePass, "hashable equality"};
	if (guc::orphan_engine == guc::kEnginePlanner) {
		plan->choice = planner("fk_guard.orphan_engine is planner");
		return;
	}
	if (spec.citus_child || spec.citus_parent) {
		plan->choice = planner("a Citus table: its rows are in shards, which only Citus's planner reads");
		return;
	}
	const char *reason = nullptr;
	if (!plain_table_without_rls(spec.scan_relid, &reason, Side::kReferencing) ||
	    !plain_table_without_rls(spec.parent_relid, &reason, Side::kReferenced)) {
		plan->choice = planner(reason);
		return;
	}
	if (!table_leaves(spec.scan_relid, spec.scan_partitioned, Side::kReferencing, &plan->child, &reason) ||
	    !table_leaves(spec.parent_relid, spec.parent_partitioned, Side::kReferenced, &plan->parent, &reason)) {
		plan->choice = planner(reason);
		return;
	}
	if (ri_cannot_compare(spec)) {
		plan->choice = planner("PostgreSQL's own check cannot compare the keys' collations");
		return;
	}
	if (pg_class_aclcheck(spec.scan_relid, fk.checker, ACL_SELECT) != ACLCHECK_OK) {
		plan->choice = planner("the referencing table's owner may not read it");
		return;
	}

	HeapTuple tuple = SearchSysCache1(CONSTROID, ObjectIdGetDatum(spec.constraint_oid));
	if (!HeapTupleIsValid(tuple)) {
		plan->choice = planner("the constraint was dropped");
		return;
	}
	int nkeys = 0;
	AttrNumber conkey[INDEX_MAX_KEYS], confkey[INDEX_MAX_KEYS];
	Oid pf_eq[INDEX_MAX_KEYS], pp_eq[INDEX_MAX_KEYS], ff_eq[INDEX_MAX_KEYS];
	DeconstructFkConstraintRow(tuple, &nkeys, conkey, confkey, pf_eq, pp_eq, ff_eq, nullptr, nullptr);
	ReleaseSysCache(tuple);
	if (nkeys != spec.nkeys) {
		plan->choice = planner("the constraint changed");
		return;
	}

	for (int i = 0; i < nkeys; i++) {
		ColumnPlan &column = plan->columns[i];
		column.fk_attno = get_attnum(spec.scan_relid, spec.keys[i].fk_column);
		column.pk_attno = confkey[i];
		if (column.fk_attno <= 0) {
			plan->choice = planner("a key column was not found");
			return;
		}
		/* as the executor checks a column: the table's privilege, else the column's */
		if (pg_class_aclcheck(spec.parent_relid, fk.checker, ACL_SELECT) != ACLCHECK_OK &&
		    pg_attribute_aclcheck(spec.parent_relid, column.pk_attno, fk.checker, ACL_SELECT) != ACLCHECK_OK) {
			plan->choice = planner("the referencing table's owner may not read the referenced key");
			return;
		}
		Oid fk_type, pk_type, fk_collation;
		int32 typmod;
		get_atttypetypmodcoll(spec.scan_relid, column.fk_attno, &fk_type, &typmod, &fk_collation);
		get_atttypetypmodcoll(spec.parent_relid, column.pk_attno, &pk_type, &typmod, &column.collation);
		op_input_types(pf_eq[i], &column.left_type, &column.right_type);
		if (!IsBinaryCoercible(pk_type, column.left_type) || !IsBinaryCoercible(fk_type, column.right_type)) {
			plan->choice = planner("a key column is cast by a function before it is compared");
			return;
		}
		if (spec.keys[i].nondeterministic ||
		    (OidIsValid(column.collation) && !get_collation_isdeterministic(column.collation))) {
			plan->choice = planner("a nondeterministic collation: equal keys may differ in their bytes");
			return;
		}
		column.eq_function = get_opcode(pf_eq[i]);
		if (!OidIsValid(column.eq_function)) {
			plan->choice = planner("the key's equality operator has no function");
			return;
		}
		if (const char *missing = planner_privilege_missing(fk.checker, pf_eq[i], column.eq_function, pk_type, fk_type,
		                                                    fk_collation, column)) {
			plan->choice = planner(missing);
			return;
		}
		if (!func_strict(column.eq_function)) {
			plan->choice = planner("the key's equality function is not strict");
			return;
		}
		if (!get_op_hash_functions(pf_eq[i], &column.pk_hash, &column.fk_hash) || !func_strict(column.pk_hash) ||
		    !func_strict(column.fk_hash)) {
			plan->choice =
				planner("no hash operator family holds the key's equality with hash functions for both types");
			return;
		}
		if (is_int_equality(column.eq_function))
			column.kind = ColumnKind::kInt;
		else if (column.eq_function == F_TEXTEQ && OidIsValid(column.collation))
			column.kind = ColumnKind::kText;
		else if (column.eq_function == F_UUID_EQ)
			column.kind = ColumnKind::kUuid;
		else
			column.kind = ColumnKind::kGeneric;
		column.distinct_eq = column.distinct_hash = InvalidOid;
		if (report != Report::kRows) {
			TypeCacheEntry *type = lookup_type_cache(distinct_type(fk_type, column.right_type),
			                                         TYPECACHE_EQ_OPR | TYPECACHE_HASH_PROC);
			if (!OidIsValid(type->eq_opr) || !OidIsValid(type->hash_proc)) {
				plan->choice = planner("the referencing column's type has no hashable equality to count missing keys");
				return;
			}
			column.distinct_eq = get_opcode(type->eq_opr);
			column.distinct_hash = type->hash_proc;
		}
		plan->ncolumns++;
	}

	bool all_fast = true;
	for (int c = 0; c < plan->ncolumns; c++)
		all_fast = all_fast && plan->columns[c].kind != ColumnKind::kGeneric;
	plan->choice.reason = all_fast ? "int, text or uuid keys, compared as bytes"
	                               : "hashable equality, hashed and compared through fmgr";
	if (guc::orphan_engine == guc::kEngineAuto) {
		double bytes = plan->parent.tuples * estimated_key_bytes(*plan);
		if (*estimated + bytes > (double) get_hash_memory_limit())
			plan->choice = planner(*estimated > 0
			                           ? "the referenced keys, with those of the table's foreign keys before it, are "
			                             "estimated to exceed work_mem * hash_mem_multiplier"
			                           : "the referenced keys are estimated to exceed work_mem * hash_mem_multiplier");
		else
			*estimated += bytes;
	}
}

/* ---- The pass ------------------------------------------------------------ */

/* The pass's memory budget, shared by all its keys (they are all held at
 * once): work_mem * hash_mem_multiplier, like one hash join's. */
struct Budget {
	size_t used;
	size_t limit;
	size_t peak; /* the most used at once, for the DEBUG2 line run_one_pass ends with */
};

/* One key's share: its memory, in a context of its own so that a key that
 * gives up returns its memory to the others. */
struct KeyBudget {
	Budget *pass;
	MemoryContext context;
	size_t used;
};

void *
budget_alloc(void *arg, size_t bytes)
{
	KeyBudget *budget = static_cast<KeyBudget *>(arg);
	if (budget->pass->used + bytes > budget->pass->limit)
		return nullptr;
	void *memory = MemoryContextAllocExtended(budget->context, bytes,
	                                          MCXT_ALLOC_HUGE | MCXT_ALLOC_ZERO | MCXT_ALLOC_NO_OOM);
	if (memory != nullptr) {
		budget->used += bytes;
		budget->pass->used += bytes;
		budget->pass->peak = Max(budget->pass->peak, budget->pass->used);
	}
	return memory;
}

void
budget_release(void *arg, void *memory, size_t bytes)
{
	KeyBudget *budget = static_cast<KeyBudget *>(arg);
	pfree(memory);
	budget->used -= bytes;
	budget->pass->used -= bytes;
}

/* The guard's interrupt hook (key_set.h): may longjmp out of a set's operation. */
void
check_interrupts(void * /*arg*/)
{
	CHECK_FOR_INTERRUPTS();
}

/* Most orphan ctids one key collects: what one tid[] array value can hold
 * (report_one_pass passes them to the planner as one). */
constexpr uint64 kMaxCtids = (MaxAllocSize - ARR_OVERHEAD_NONULLS(1)) / sizeof(ItemPointerData);

/* How a key's referenced set is held. */
enum class SetKind {
	kInts,    /* one int column: keyset::IntSet */
	kPacked,  /* every column int, text or uuid: their bytes in a keyset::Table */
	kGeneric, /* Datum arrays in a keyset::Table, hashed and compared through fmgr */
};

struct GenericColumn {
	FmgrInfo eq;
	FmgrInfo pk_hash;
	FmgrInfo fk_hash;
	FmgrInfo distinct_eq;
	FmgrInfo distinct_hash;
	int16 pk_len;
	bool pk_byval;
	int16 fk_len;
	bool fk_byval;
};

struct KeyRun {
	const DeclaredForeignKey *fk;
	KeyPlan plan;
	SetKind kind;
	KeyBudget budget;
	keyset::Allocator alloc;
	keyset::Guard *guard;
	keyset::IntSet ints;
	keyset::Table table;
	keyset::Arena arena;
	keyset::Table missing; /* summaries: the distinct missing keys */
	keyset::Arena missing_arena;
	GenericColumn *generic; /* kGeneric: per column */
	keyset::Vector ctids;   /* rows: the orphans' ctids */
	int64 *leaf_ends;       /* rows: where each scanned leaf's ctids end (OnePassResult) */
	bool active;            /* still judged by the scan */
	OnePassResult *result;
	/* The key columns' numbers in the table being scanned: the referencing
	 * table's, or the leaf partition's, whose columns may be in another order. */
	AttrNumber fk_attno[INDEX_MAX_KEYS];
};

/* A growable byte buffer for a key's encoding, in the pass's context. */
struct Buffer {
	char *data;
	size_t size;
	size_t length;
};

void
buffer_append(Buffer *buffer, const void *bytes, size_t length)
{
	if (buffer->length + length > buffer->size) {
		size_t size = buffer->size * 2;
		while (size < buffer->length + length)
			size *= 2;
		buffer->data = static_cast<char *>(repalloc_huge(buffer->data, size));
		buffer->size = size;
	}
	memcpy(buffer->data + buffer->length, bytes, length);
	buffer->length += length;
}

int64
int_value(Datum value, Oid type)
{
	switch (type) {
	case INT2OID:
		return DatumGetInt16(value);
	case INT4OID:
		return DatumGetInt32(value);
	default:
		return DatumGetInt64(value);
	}
}

/* The bytes that stand for one column's value: equal bytes iff equal values
 * (for kInt, kText under a deterministic collation, kUuid).  Detoasted
 * copies go to the current (per-row) context. */
void
encode_column(Buffer *buffer, ColumnKind kind, Datum value, Oid type)
{
	switch (kind) {
	case ColumnKind::kInt: {
		int64 v = int_value(value, type);
		buffer_append(buffer, &v, sizeof(v));
		break;
	}
	case ColumnKind::kText: {
		struct varlena *text = pg_detoast_datum_packed((struct varlena *) DatumGetPointer(value));
		uint32 length = VARSIZE_ANY_EXHDR(text);
		buffer_append(buffer, &length, sizeof(length));
		buffer_append(buffer, VARDATA_ANY(text), length);
		break;
	}
	case ColumnKind::kUuid:
		buffer_append(buffer, DatumGetPointer(value), UUID_LEN);
		break;
	case ColumnKind::kGeneric:
		elog(ERROR, "fk_guard: a generic key column has no byte encoding");
	}
}

/* Stored packed keys: a uint32 length, then the bytes. */
const void *
store_bytes(keyset::Arena *arena, const Buffer *buffer)
{
	char *key = static_cast<char *>(keyset::arena_alloc(arena, sizeof(uint32) + buffer->length));
	if (key == nullptr)
		return nullptr;
	uint32 length = (uint32) buffer->length;
	memcpy(key, &length, sizeof(length));
	memcpy(key + sizeof(length), buffer->data, buffer->length);
	return key;
}

bool
bytes_equal(const void *stored, const Buffer *buffer)
{
	uint32 length;
	memcpy(&length, stored, sizeof(length));
	return length == buffer->length &&
	       memcmp(static_cast<const char *>(stored) + sizeof(length), buffer->data, length) == 0;
}

/* A copy of value in the arena (detoasted), as a Datum. */
bool
store_datum(keyset::Arena *arena, Datum value, int16 typlen, bool byval, Datum *out)
{
	if (byval) {
		*out = value;
		return true;
	}
	if (typlen == -1)
		value = PointerGetDatum(pg_detoast_datum_packed((struct varlena *) DatumGetPointer(value)));
	Size size = datumGetSize(value, byval, typlen);
	void *copy = keyset::arena_alloc(arena, size);
	if (copy == nullptr)
		return false;
	memcpy(copy, DatumGetPointer(value), size);
	*out = PointerGetDatum(copy);
	return true;
}

uint32
generic_hash(FmgrInfo *function, Oid collation, Datum value)
{
	return DatumGetUInt32(FunctionCall1Coll(function, collation, value));
}

/* Sets up a key's run state (its functions and sets) in a context of its own
 * under context, drawing on the pass's budget. */
void
start_key(KeyRun *run, MemoryContext context, Budget *budget, keyset::Guard *guard)
{
	const KeyPlan &plan = run->plan;
	context = AllocSetContextCreate(context, "fk_guard one-pass key", ALLOCSET_DEFAULT_SIZES);
	run->budget = KeyBudget{budget, context, 0};
	run->alloc = keyset::Allocator{budget_alloc, budget_release, &run->budget};
	run->guard = guard;
	keyset::arena_init(&run->arena, run->alloc);
	keyset::arena_init(&run->missing_arena, run->alloc);
	keyset::vector_init(&run->ctids, run->alloc, sizeof(ItemPointerData), kMaxCtids);
	bool all_fast = true;
	for (int c = 0; c < plan.ncolumns; c++)
		all_fast = all_fast && plan.columns[c].kind != ColumnKind::kGeneric;
	run->kind = plan.ncolumns == 1 && plan.columns[0].kind == ColumnKind::kInt ? SetKind::kInts
	            : all_fast                                                     ? SetKind::kPacked
	                                                                           : SetKind::kGeneric;
	run->generic = nullptr;
	if (run->kind == SetKind::kGeneric) {
		run->generic = static_cast<GenericColumn *>(MemoryContextAllocZero(context, sizeof(GenericColumn) *
		                                                                                (size_t) plan.ncolumns));
		for (int c = 0; c < plan.ncolumns; c++) {
			const ColumnPlan &column = plan.columns[c];
			GenericColumn &g = run->generic[c];
			fmgr_info_cxt(column.eq_function, &g.eq, context);
			fmgr_info_cxt(column.pk_hash, &g.pk_hash, context);
			fmgr_info_cxt(column.fk_hash, &g.fk_hash, context);
			if (OidIsValid(column.distinct_eq)) {
				fmgr_info_cxt(column.distinct_eq, &g.distinct_eq, context);
				fmgr_info_cxt(column.distinct_hash, &g.distinct_hash, context);
			}
			get_typlenbyval(column.left_type, &g.pk_len, &g.pk_byval);
			get_typlenbyval(column.right_type, &g.fk_len, &g.fk_byval);
		}
	}
	run->active = true;
}

/* The key fails over to the planner's path; its memory returns to the pass's budget. */
void
give_up(KeyRun *run, const char *reason)
{
	run->active = false;
	run->result->done = false;
	run->result->reason = reason;
	if (run->budget.context != nullptr) {
		MemoryContextDelete(run->budget.context);
		run->budget.pass->used -= run->budget.used;
		run->budget.context = nullptr;
		run->budget.used = 0;
	}
}

const char *const kOverBudget =
	"the key sets of the table's foreign keys exceed work_mem * hash_mem_multiplier, which they share";
const char *const kTooLong = "too many keys share a hash value (a probe passed its cap)";

const char *
insert_failure(keyset::Insert outcome)
{
	return outcome == keyset::Insert::kTooLong ? kTooLong : kOverBudget;
}

/* What build_parent_set has collected so far, across the referenced leaves. */
struct Collected {
	int64 *values; /* kInts: the keys, before intset_build */
	size_t nvalues;
	size_t capacity;
	bool ok;
	const char *failure; /* why not ok */
};

/* Adds the rows of one scan of a table holding referenced rows (pk: the key
 * columns' numbers in it, last the greatest) to run's set: build_parent_set's
 * loop, once per leaf. */
void
build_from_scan(KeyRun *run, TableScanDesc scan, TupleTableSlot *slot, const AttrNumber *pk, AttrNumber last,
                MemoryContext row_context, Buffer *buffer, Collected *collected)
{
	const KeyPlan &plan = run->plan;
	int64 *values = collected->values;
	size_t nvalues = collected->nvalues, capacity = collected->capacity;
	bool ok = collected->ok;
	const char *failure = collected->failure;

	while (ok && table_scan_getnextslot(scan, ForwardScanDirection, slot)) {
		CHECK_FOR_INTERRUPTS();
		slot_getsomeattrs(slot, last);
		bool complete = true;
		for (int c = 0; c < plan.ncolumns && complete; c++)
			complete = !slot->tts_isnull[pk[c] - 1];
		if (!complete)
			continue; /* a referenced row with a null key matches nothing */
		MemoryContextReset(row_context);
		MemoryContext old = MemoryContextSwitchTo(row_context);
		if (run->kind == SetKind::kInts) {
			if (nvalues == capacity) {
				int64 *grown = static_cast<int64 *>(run->alloc.alloc(run->alloc.arg, capacity * 2 * sizeof(int64)));
				if (grown == nullptr)
					ok = false;
				else {
					if (nvalues > 0)
						memcpy(grown, values, nvalues * sizeof(int64));
					run->alloc.release(run->alloc.arg, values, capacity * sizeof(int64));
					values = grown;
					capacity *= 2;
				}
			}
			if (ok)
				values[nvalues++] = int_value(slot->tts_values[pk[0] - 1], plan.columns[0].left_type);
		} else if (run->kind == SetKind::kPacked) {
			buffer->length = 0;
			for (int c = 0; c < plan.ncolumns; c++)
				encode_column(buffer, plan.columns[c].kind, slot->tts_values[pk[c] - 1], plan.columns[c].left_type);
			uint32 hash = keyset::hash_bytes(buffer->data, buffer->length, run->guard->seed);
			keyset::Arena *arena = &run->arena;
			keyset::Insert outcome = keyset::table_insert(
				&run->table, hash, [buffer](const void *stored) { return bytes_equal(stored, buffer); },
				[arena, buffer]() { return store_bytes(arena, buffer); });
			ok = outcome == keyset::Insert::kAdded || outcome == keyset::Insert::kPresent;
			if (!ok)
				failure = insert_failure(outcome);
		} else {
			uint32 hash = 0;
			for (int c = 0; c < plan.ncolumns; c++)
				hash = keyset::combine(hash,
				                       generic_hash(&run->generic[c].pk_hash, plan.columns[c].collation,
				                                    slot->tts_values[pk[c] - 1]),
				                       run->guard->seed);
			Datum *stored = static_cast<Datum *>(keyset::arena_alloc(&run->arena, sizeof(Datum) * plan.ncolumns));
			ok = stored != nullptr;
			for (int c = 0; c < plan.ncolumns && ok; c++)
				ok = store_datum(&run->arena, slot->tts_values[pk[c] - 1], run->generic[c].pk_len,
				                 run->generic[c].pk_byval, &stored[c]);
			/* Referenced keys are not deduplicated: the operator compares a
			 * referenced key with a referencing one, not two referenced keys. */
			if (ok) {
				keyset::Insert outcome = keyset::table_insert(
					&run->table, hash, [](const void *) { return false; },
					[stored]() { return static_cast<const void *>(stored); });
				ok = outcome == keyset::Insert::kAdded;
				if (!ok)
					failure = insert_failure(outcome);
			}
		}
		MemoryContextSwitchTo(old);
	}
	*collected = Collected{values, nvalues, capacity, ok, failure};
}

/* Reads the referenced table (each of its leaf partitions in turn, when it
 * is partitioned) into run's set. */
void
build_parent_set(KeyRun *run, Snapshot snapshot, MemoryContext row_context, Buffer *buffer)
{
	const KeyPlan &plan = run->plan;
	const ForeignKeySpec &spec = run->fk->spec;
	double tuples = 0;
	for (int l = 0; l < plan.parent.count; l++) {
		/* the leaves' statistics, read under their lock (plan_key's sum may be older) */
		HeapTuple tuple = SearchSysCache1(RELOID, ObjectIdGetDatum(plan.parent.relids[l]));
		if (HeapTupleIsValid(tuple)) {
			tuples += Max(((Form_pg_class) GETSTRUCT(tuple))->reltuples, 0);
			ReleaseSysCache(tuple);
		}
	}
	Collected got{nullptr, 0, 0, true, kOverBudget};
	if (run->kind == SetKind::kInts) {
		got.capacity = tuples > 1024 ? (size_t) (tuples * 1.05) : 1024;
		got.values = static_cast<int64 *>(run->alloc.alloc(run->alloc.arg, got.capacity * sizeof(int64)));
		got.ok = got.values != nullptr;
	} else
		got.ok = keyset::table_init(&run->table, run->alloc, (uint64_t) tuples, run->guard);

	for (int l = 0; got.ok && l < plan.parent.count; l++) {
		Oid leaf = plan.parent.relids[l];
		/* The key columns by name: a partition's columns may be in another
		 * order, or follow dropped ones. */
		AttrNumber pk[INDEX_MAX_KEYS] = {};
		AttrNumber last = 0;
		for (int c = 0; c < plan.ncolumns; c++) {
			pk[c] = leaf == spec.parent_relid ? plan.columns[c].pk_attno : get_attnum(leaf, spec.keys[c].pk_column);
			if (pk[c] <= 0)
				elog(ERROR, "fk_guard: column \"%s\" of the referenced key not found in relation %u",
				     spec.keys[c].pk_column, leaf);
			last = Max(last, pk[c]);
		}
		Relation rel = table_open(leaf, AccessShareLock);
		TupleTableSlot *slot = table_slot_create(rel, nullptr);
		TableScanDesc scan = table_beginscan_strat(rel, snapshot, 0, nullptr, true, false);
		build_from_scan(run, scan, slot, pk, last, row_context, buffer, &got);
		table_endscan(scan);
		ExecDropSingleTupleTableSlot(slot);
		table_close(rel, NoLock);
	}

	bool ok = got.ok;
	const char *failure = got.failure;
	if (ok && run->kind == SetKind::kInts) {
		keyset::Build built = keyset::intset_build(&run->ints, got.values, got.nvalues, run->alloc, run->guard);
		run->alloc.release(run->alloc.arg, got.values, got.capacity * sizeof(int64));
		ok = built == keyset::Build::kBuilt;
		if (!ok)
			failure = built == keyset::Build::kTooLong ? kTooLong : kOverBudget;
	}
	if (!ok)
		give_up(run, failure);
	else if (!keyset::table_init(&run->missing, run->alloc, 16, run->guard))
		give_up(run, kOverBudget);
}

/* The referencing row's key encoded into buffer as the byte-compared sets
 * hold keys; returns its hash. */
uint32
encode_child_key(const KeyRun *run, TupleTableSlot *slot, Buffer *buffer)
{
	const KeyPlan &plan = run->plan;
	buffer->length = 0;
	for (int c = 0; c < plan.ncolumns; c++)
		encode_column(buffer, plan.columns[c].kind, slot->tts_values[run->fk_attno[c] - 1], plan.columns[c].right_type);
	return keyset::hash_bytes(buffer->data, buffer->length, run->guard->seed);
}

/* The referencing row's key hashed column by column with each column's
 * function (fk_hash to probe the referenced keys, distinct_hash for the
 * distinct missing keys). */
uint32
generic_child_hash(KeyRun *run, TupleTableSlot *slot, FmgrInfo GenericColumn::*function)
{
	const KeyPlan &plan = run->plan;
	uint32 hash = 0;
	for (int c = 0; c < plan.ncolumns; c++)
		hash = keyset::combine(hash,
		                       generic_hash(&(run->generic[c].*function), plan.columns[c].collation,
		                                    slot->tts_values[run->fk_attno[c] - 1]),
		                       run->guard->seed);
	return hash;
}

/* Whether the referencing row's (complete) key has a referenced row
 * (kFound, kAbsent), or kTooLong: the probe passed its cap, the key gives up. */
keyset::Find
has_parent(KeyRun *run, TupleTableSlot *slot, Buffer *buffer)
{
	const KeyPlan &plan = run->plan;
	if (run->kind == SetKind::kInts)
		return keyset::intset_contains(&run->ints,
		                               int_value(slot->tts_values[run->fk_attno[0] - 1], plan.columns[0].right_type))
		           ? keyset::Find::kFound
		           : keyset::Find::kAbsent;
	if (run->kind == SetKind::kPacked) {
		uint32 hash = encode_child_key(run, slot, buffer);
		return keyset::table_find(&run->table, hash,
		                          [buffer](const void *stored) { return bytes_equal(stored, buffer); });
	}
	uint32 hash = generic_child_hash(run, slot, &GenericColumn::fk_hash);
	auto equal = [run, slot, &plan](const void *stored) {
		const Datum *pk = static_cast<const Datum *>(stored);
		for (int c = 0; c < plan.ncolumns; c++)
			if (!DatumGetBool(FunctionCall2Coll(&run->generic[c].eq, plan.columns[c].collation, pk[c],
			                                    slot->tts_values[run->fk_attno[c] - 1])))
				return false;
		return true;
	};
	return keyset::table_find(&run->table, hash, equal);
}

/* Adds the orphan's (complete) key to the distinct missing keys; null, or
 * why the key gives up. */
const char *
add_missing(KeyRun *run, TupleTableSlot *slot, Buffer *buffer)
{
	const KeyPlan &plan = run->plan;
	if (run->kind != SetKind::kGeneric) {
		uint32 hash = encode_child_key(run, slot, buffer);
		keyset::Arena *arena = &run->missing_arena;
		keyset::Insert outcome = keyset::table_insert(
			&run->missing, hash, [buffer](const void *stored) { return bytes_equal(stored, buffer); },
			[arena, buffer]() { return store_bytes(arena, buffer); });
		return outcome == keyset::Insert::kAdded || outcome == keyset::Insert::kPresent ? nullptr
		                                                                                : insert_failure(outcome);
	}
	uint32 hash = generic_child_hash(run, slot, &GenericColumn::distinct_hash);
	auto equal = [run, slot, &plan](const void *stored) {
		const Datum *fk = static_cast<const Datum *>(stored);
		for (int c = 0; c < plan.ncolumns; c++)
			if (!DatumGetBool(FunctionCall2Coll(&run->generic[c].distinct_eq, plan.columns[c].collation, fk[c],
			                                    slot->tts_values[run->fk_attno[c] - 1])))
				return false;
		return true;
	};
	auto make = [run, slot, &plan]() -> const void * {
		Datum *stored = static_cast<Datum *>(keyset::arena_alloc(&run->missing_arena, sizeof(Datum) * plan.ncolumns));
		if (stored == nullptr)
			return nullptr;
		for (int c = 0; c < plan.ncolumns; c++)
			if (!store_datum(&run->missing_arena, slot->tts_values[run->fk_attno[c] - 1], run->generic[c].fk_len,
			                 run->generic[c].fk_byval, &stored[c]))
				return nullptr;
		return stored;
	};
	keyset::Insert outcome = keyset::table_insert(&run->missing, hash, equal, make);
	return outcome == keyset::Insert::kAdded || outcome == keyset::Insert::kPresent ? nullptr : insert_failure(outcome);
}

/* Records an orphan row's ctid (rows report); null, or why the key gives up. */
const char *
add_ctid(KeyRun *run, ItemPointer tid)
{
	switch (keyset::vector_push(&run->ctids, tid)) {
	case keyset::Push::kPushed:
		run->result->ctids = reinterpret_cast<ItemPointerData *>(run->ctids.data);
		run->result->nctids = (int64) run->ctids.count;
		return nullptr;
	case keyset::Push::kFull:
		return "more orphans than one tid[] array holds";
	case keyset::Push::kNoMemory:
		break;
	}
	return "the orphans found exceed work_mem * hash_mem_multiplier";
}

/*
 * Judges one referencing row (in slot, its key columns deformed) for every
 * active key of runs, as RI_FKey_check would; returns how many keys stopped
 * (reached the limit, or gave up).
 */
int
judge_row(KeyRun *runs, int n, TupleTableSlot *slot, Report report, int64 limit, Buffer *buffer)
{
	int stopped = 0;
	for (int i = 0; i < n; i++) {
		KeyRun *run = &runs[i];
		if (!run->active)
			continue;
		const KeyPlan &plan = run->plan;
		int nulls = 0;
		for (int c = 0; c < plan.ncolumns; c++)
			nulls += slot->tts_isnull[run->fk_attno[c] - 1] ? 1 : 0;
		/* ri_NullCheck: MATCH SIMPLE checks rows without nulls; MATCH FULL
		 * checks rows with a non-null, and a partial one never finds a
		 * partner. */
		if (nulls == plan.ncolumns || (nulls > 0 && !run->fk->spec.match_full))
			continue;
		if (nulls == 0) {
			keyset::Find found = has_parent(run, slot, buffer);
			if (found == keyset::Find::kFound)
				continue;
			if (found == keyset::Find::kTooLong) {
				give_up(run, kTooLong);
				stopped++;
				continue;
			}
		}
		run->result->orphan_rows++;
		const char *failure = nullptr;
		if (report == Report::kRows) {
			failure = add_ctid(run, &slot->tts_tid);
			if (failure == nullptr && limit >= 0 && run->result->nctids >= limit) {
				run->active = false;
				stopped++;
			}
		} else if (nulls == 0)
			failure = add_missing(run, slot, buffer);
		if (failure != nullptr) {
			give_up(run, failure);
			stopped++;
		}
	}
	return stopped;
}

} // namespace

EngineChoice
choose_engine(const DeclaredForeignKey &fk, Report report, double *estimated)
{
	KeyPlan *plan = static_cast<KeyPlan *>(palloc(sizeof(KeyPlan)));
	plan_key(fk, report, plan, estimated);
	EngineChoice choice = plan->choice;
	for (Oid *relids : {plan->parent.relids, plan->child.relids})
		if (relids != nullptr)
			pfree(relids);
	pfree(plan);
	return choice;
}

void
run_one_pass(const DeclaredForeignKey *keys, const int *which, int n, Report report, int64 limit, MemoryContext context,
             OnePassResult *results)
{
	MemoryContext old = MemoryContextSwitchTo(context);
	KeyRun *runs = static_cast<KeyRun *>(palloc0(sizeof(KeyRun) * (size_t) n));
	MemoryContext row_context = AllocSetContextCreate(context, "fk_guard one-pass row", ALLOCSET_DEFAULT_SIZES);
	Buffer buffer{static_cast<char *>(palloc(1024)), 1024, 0};
	Snapshot snapshot = GetActiveSnapshot();
	const ForeignKeySpec &first = keys[which[0]].spec;
	/* One budget for every key: they are all held until the scan ends.  A
	 * key whose set does not fit gives up (returning its memory), and the
	 * keys after it may still fit. */
	Budget budget{0, get_hash_memory_limit(), 0};
	/* A seed per pass: the keys' owner cannot choose keys that collide. */
	keyset::Guard guard = keyset::guard_make(pg_prng_uint64(&pg_global_prng_state), check_interrupts);
	double estimated = 0;

	/* Where the time goes, for the DEBUG2 line at the end: the key sets, then
	 * the scan.  (DEBUG2, not DEBUG1: the tests show DEBUG1's engine choices,
	 * and times would make their output vary.) */
	instr_time started, built, scanned;
	INSTR_TIME_SET_CURRENT(started);

	SavedIdentity saved = become_owner(keys[which[0]].checker);
	for (int i = 0; i < n; i++) {
		KeyRun *run = &runs[i];
		run->fk = &keys[which[i]];
		run->result = &results[i];
		*run->result = OnePassResult{true, "judged in one pass", 0, 0, nullptr, 0, nullptr, nullptr, 0};
		plan_key(*run->fk, report, &run->plan, &estimated);
		if (run->plan.choice.engine != Engine::kOnePass) {
			give_up(run, run->plan.choice.reason);
			continue;
		}
		start_key(run, context, &budget, &guard);
		build_parent_set(run, snapshot, row_context, &buffer);
	}

	INSTR_TIME_SET_CURRENT(built);
	/* The tables to scan: the referencing table, or its leaves (every key
	 * given the pass found the same ones, under the same locks). */
	const Leaves *leaves = nullptr;
	int active = 0;
	for (int i = 0; i < n; i++)
		if (runs[i].active) {
			active++;
			if (leaves == nullptr)
				leaves = &runs[i].plan.child;
			if (report == Report::kRows && limit == 0)
				runs[i].active = false, active--;
		}
	for (int i = 0; leaves != nullptr && report == Report::kRows && i < n; i++) {
		runs[i].leaf_ends = static_cast<int64 *>(palloc0(sizeof(int64) * (size_t) Max(leaves->count, 1)));
		runs[i].result->leaves = leaves->relids;
		runs[i].result->leaf_ends = runs[i].leaf_ends;
		runs[i].result->nleaves = leaves->count;
	}

	for (int l = 0; active > 0 && l < leaves->count; l++) {
		Oid leaf = leaves->relids[l];
		/* The key columns by name in a leaf: its columns may be in another
		 * order, or follow dropped ones. */
		AttrNumber last = 0;
		for (int i = 0; i < n; i++) {
			KeyRun *run = &runs[i];
			if (!run->active)
				continue;
			for (int c = 0; c < run->plan.ncolumns; c++) {
				run->fk_attno[c] = leaf == first.scan_relid ? run->plan.columns[c].fk_attno
				                                            : get_attnum(leaf, run->fk->spec.keys[c].fk_column);
				if (run->fk_attno[c] <= 0)
					elog(ERROR, "fk_guard: column \"%s\" of the referencing key not found in relation %u",
					     run->fk->spec.keys[c].fk_column, leaf);
				last = Max(last, run->fk_attno[c]);
			}
		}
		Relation rel = table_open(leaf, AccessShareLock);
		TupleTableSlot *slot = table_slot_create(rel, nullptr);
		/* No synchronized scan: rows come in ctid order, the order of the planner's path. */
		TableScanDesc scan = table_beginscan_strat(rel, snapshot, 0, nullptr, true, false);
		while (active > 0 && table_scan_getnextslot(scan, ForwardScanDirection, slot)) {
			CHECK_FOR_INTERRUPTS();
			slot_getsomeattrs(slot, last);
			MemoryContextReset(row_context);
			MemoryContext outer = MemoryContextSwitchTo(row_context);
			active -= judge_row(runs, n, slot, report, limit, &buffer);
			MemoryContextSwitchTo(outer);
		}
		table_endscan(scan);
		ExecDropSingleTupleTableSlot(slot);
		table_close(rel, NoLock);
		for (int i = 0; report == Report::kRows && i < n; i++)
			if (runs[i].result->done)
				runs[i].leaf_ends[l] = runs[i].result->nctids;
	}
	/* leaves not scanned (every key stopped): no orphans there */
	for (int i = 0; leaves != nullptr && report == Report::kRows && i < n; i++)
		for (int l = 1; runs[i].result->done && l < leaves->count; l++)
			runs[i].leaf_ends[l] = Max(runs[i].leaf_ends[l], runs[i].leaf_ends[l - 1]);
	for (int i = 0; i < n; i++)
		if (runs[i].result->done && report != Report::kRows)
			runs[i].result->missing_keys = (int64) runs[i].missing.count;
	INSTR_TIME_SET_CURRENT(scanned);
	int judged = 0;
	for (int i = 0; i < n; i++)
		judged += runs[i].result->done ? 1 : 0;
	INSTR_TIME_SUBTRACT(scanned, built);
	INSTR_TIME_SUBTRACT(built, started);
	ereport(DEBUG2, (errmsg_internal("fk_guard: one pass over %s: %d of %d foreign keys judged; key sets built in %.1f "
	                                 "ms, rows scanned in %.1f ms; at most %zu bytes held of the %zu budget",
	                                 relation_name(first.scan_relation), judged, n, INSTR_TIME_GET_MILLISEC(built),
	                                 INSTR_TIME_GET_MILLISEC(scanned), budget.peak, budget.limit)));
	restore_identity(saved);
	MemoryContextDelete(row_context);
	MemoryContextSwitchTo(old);
}

} // namespace fkg
