/*
 * precheck.cpp
 *    fk_precheck(): the rows of a staging table that would violate a foreign
 *    key of the table they are to be loaded into, judged as PostgreSQL's RI
 *    check would judge them if they were inserted now.
 *
 * The staging rows are read as the staging table's owner, and judged as each
 * referenced table's owner -- the role RI_FKey_check runs as (ri_PerformCheck)
 * -- in security-restricted operations with search_path pinned
 * (owner_identity.h), by the partner condition fk_orphans() uses
 * (orphan_query.h), after converting each staging value as INSERT would
 * (assignment_cast.h):
 *
 *   - when one role owns the staging tables and every referenced table, in a
 *     single query as that role: one pass over the staging table (a CTE
 *     inlined into the query), left-joined to each referenced table;
 *   - otherwise in two steps: the staging rows (ctid and converted key
 *     columns) are read once, as their owner, into a tuplestore; then one
 *     query per owner of referenced tables judges them, as that owner, with
 *     the tuplestore read as an ephemeral named relation (the way trigger
 *     transition tables are read).
 *
 * Each with_parents table is read the same way, converted to its referenced
 * table's column types: the rows that will be loaded into it.
 *
 * Who may learn what: the caller must be able to read the staging tables
 * (SELECT on the table, USAGE on its schema, no row-level security hiding
 * rows).  Whether a key exists in the referenced table is what an INSERT of
 * the row into target would tell, whoever may insert into target's key
 * columns; so a foreign key may be prechecked by a role that may insert into
 * its columns of target, or that may read the referenced columns, as
 * fk_orphans() requires (and no row-level security applies to the table its
 * answer rests on).
 */
#include "common/compat.h"
#include "common/owner_identity.h"
#include "common/pg_boundary.h"
#include "orphans/fk_catalog.h"
#include "orphans/orphan_query.h"
#include "precheck/assignment_cast.h"

extern "C" {
#include "access/htup_details.h"
#include "catalog/pg_attribute.h"
#include "catalog/pg_class.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "lib/qunique.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "storage/lmgr.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/plancache.h"
#include "utils/queryenvironment.h"
#include "utils/rls.h"
#include "utils/syscache.h"
}

namespace {

using fkg::DeclaredForeignKey;
using fkg::ForeignKeySpec;

/* The ephemeral named relation holding the staging rows' keys. */
const char *const kStagedRelation = "fk_guard_staged";

/* A with_parents staging table and the table it will be loaded into. */
struct StandIn {
	Oid staging;
	Oid parent;
};

Oid
relation_owner(Oid relid)
{
	HeapTuple tuple = SearchSysCache1(RELOID, ObjectIdGetDatum(relid));
	if (!HeapTupleIsValid(tuple))
		elog(ERROR, "fk_guard: cache lookup failed for relation %u", relid);
	Oid owner = ((Form_pg_class) GETSTRUCT(tuple))->relowner;
	ReleaseSysCache(tuple);
	return owner;
}

const char *
qualified_relation_name(Oid relid)
{
	return quote_qualified_identifier(get_namespace_name(get_rel_namespace(relid)), get_rel_name(relid));
}

bool
rls_applies(Oid relid)
{
	return check_enable_rls(relid, InvalidOid, true) == RLS_ENABLED;
}

/* True when the current role holds mode on table's column (or the whole table). */
bool
column_allowed(Oid table_oid, const char *column, AclMode mode)
{
	Oid roleid = GetUserId();
	if (pg_class_aclcheck(table_oid, roleid, mode) == ACLCHECK_OK)
		return true;
	AttrNumber attnum = get_attnum(table_oid, column);
	return attnum != InvalidAttrNumber && pg_attribute_aclcheck(table_oid, attnum, roleid, mode) == ACLCHECK_OK;
}

/*
 * A staging table the caller names (what is the source, or in with_parents):
 * a plain table (its rows are named by ctid, which a partitioned table's
 * partitions repeat) that the caller may read whole.
 */
void
check_staging_table(Oid relid, const char *argument)
{
	char relkind = get_rel_relkind(relid);
	if (relkind == '\0')
		ereport(ERROR, (errcode(ERRCODE_UNDEFINED_TABLE), errmsg("relation with OID %u does not exist", relid)));
	if (relkind == RELKIND_PARTITIONED_TABLE)
		ereport(ERROR, (errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
		                errmsg("%s %s is a partitioned table", argument, get_rel_name(relid)),
		                errdetail("fk_precheck names staging rows by ctid, which partitions repeat."),
		                errhint("Check each partition as a staging table of its own.")));
	if (relkind != RELKIND_RELATION)
		ereport(ERROR, (errcode(ERRCODE_WRONG_OBJECT_TYPE), errmsg("\"%s\" is not a table", get_rel_name(relid)),
		                errdetail("The %s of fk_precheck must be a table holding the rows to be loaded.", argument)));
	if (!fkg::compat::may_use_namespace(get_rel_namespace(relid), GetUserId()))
		aclcheck_error(ACLCHECK_NO_PRIV, OBJECT_SCHEMA, get_namespace_name(get_rel_namespace(relid)));
	if (pg_class_aclcheck(relid, GetUserId(), ACL_SELECT) != ACLCHECK_OK)
		aclcheck_error(ACLCHECK_NO_PRIV, OBJECT_TABLE, get_rel_name(relid));
	if (rls_applies(relid))
		ereport(ERROR,
		        (errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
		         errmsg("cannot precheck staging table %s", qualified_relation_name(relid)),
		         errdetail("Row-level security is active on it for the current role; fk_precheck reads every row."),
		         errhint("Run fk_precheck as the table owner or as a role with BYPASSRLS.")));
}

/* The oids of a regclass[] argument; NULL elements refused. */
Oid *
regclass_array(FunctionCallInfo fcinfo, int arg, const char *name, int *count)
{
	*count = 0;
	if (PG_ARGISNULL(arg))
		return nullptr;
	Datum *elems;
	bool *nulls;
	deconstruct_array(PG_GETARG_ARRAYTYPE_P(arg), REGCLASSOID, sizeof(Oid), true, TYPALIGN_INT, &elems, &nulls, count);
	Oid *oids = static_cast<Oid *>(palloc(sizeof(Oid) * (*count + 1)));
	for (int i = 0; i < *count; i++) {
		if (nulls[i])
			ereport(ERROR, (errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED), errmsg("%s must not contain NULL", name)));
		oids[i] = DatumGetObjectId(elems[i]);
	}
	return oids;
}

/* AccessShareLock on each relation, in OID order. */
void
lock_relations(const Oid *relids, int n)
{
	Oid *sorted = static_cast<Oid *>(palloc(sizeof(Oid) * (n + 1)));
	memcpy(sorted, relids, sizeof(Oid) * n);
	qsort(sorted, n, sizeof(Oid), oid_cmp);
	n = (int) qunique(sorted, n, sizeof(Oid), oid_cmp);
	for (int i = 0; i < n; i++)
		LockRelationOid(sorted[i], AccessShareLock);
	pfree(sorted);
}

/* The declared foreign keys of target (clones folded), one entry each, but
 * for those NOT ENFORCED (PostgreSQL 18), which INSERT does not check: named
 * in not_enforced when it is given. */
DeclaredForeignKey *
target_foreign_keys(Oid target, int *count, StringInfo not_enforced)
{
	int n = 0;
	DeclaredForeignKey *keys = fkg::load_declared_foreign_keys(target, &n);
	int kept = 0;
	for (int i = 0; i < n; i++) {
		if (keys[i].spec.scan_relid != target) /* a detach-pending partition's second entry */
			continue;
		/* A Citus table's rows are in shards, which these queries would not read. */
		if (keys[i].spec.citus_child || keys[i].spec.citus_parent)
			ereport(ERROR,
			        (errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
			         errmsg("fk_precheck does not check foreign keys of Citus tables"),
			         errdetail("Foreign key \"%s\" is on or references a Citus table.", keys[i].spec.constraint_name)));
		if (!fkg::compat::constraint_enforced(keys[i].spec.constraint_oid)) {
			if (not_enforced != nullptr)
				appendStringInfo(not_enforced, "%s%s", not_enforced->len > 0 ? ", " : "",
				                 quote_identifier(keys[i].spec.constraint_name));
			continue;
		}
		keys[kept++] = keys[i];
	}
	*count = kept;
	return keys;
}

/* Foreign keys declared on partitions below target only: which rows they
 * apply to depends on where each row is routed, so they are not checked. */
void
notice_partition_keys(Oid target)
{
	if (get_rel_relkind(target) != RELKIND_PARTITIONED_TABLE)
		return;
	const char *sql = "SELECT pg_catalog.string_agg(pg_catalog.format('%I on %s', c.conname, c.conrelid::pg_catalog."
					  "regclass), ', ' ORDER BY c.conname) FROM pg_catalog.pg_constraint c "
					  "WHERE c.contype = 'f' AND c.conparentid = 0 AND c.conrelid IN "
					  "(SELECT t.relid FROM pg_catalog.pg_partition_tree($1) t WHERE t.relid <> $1)";
	Oid argtypes[1] = {REGCLASSOID};
	Datum args[1] = {ObjectIdGetDatum(target)};
	if (SPI_execute_with_args(sql, 1, argtypes, args, nullptr, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "fk_guard: partition key query failed");
	char *names = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
	if (names != nullptr)
		ereport(NOTICE, (errmsg("fk_precheck does not check foreign keys declared on partitions of %s only",
		                        qualified_relation_name(target)),
		                 errdetail("Not checked: %s.", names),
		                 errhint("Precheck the staging rows against the partition they will be routed to.")));
}

/*
 * Whether the current role may learn, for the keys of fk, whether they exist:
 * what an INSERT into target's key columns would tell it, or what reading
 * the referenced columns would.  Raises 42501 otherwise.
 */
void
require_may_learn_keys(const DeclaredForeignKey &fk, Oid target)
{
	const ForeignKeySpec &spec = fk.spec;
	bool by_insert = fkg::compat::may_use_namespace(get_rel_namespace(target), GetUserId()) && !rls_applies(target);
	bool by_select = fkg::compat::may_use_namespace(get_rel_namespace(spec.parent_relid), GetUserId()) &&
	                 !rls_applies(spec.parent_relid);
	StringInfoData fk_columns, pk_columns;
	initStringInfo(&fk_columns);
	initStringInfo(&pk_columns);
	for (int i = 0; i < spec.nkeys; i++) {
		by_insert = by_insert && column_allowed(target, spec.keys[i].fk_column, ACL_INSERT);
		by_select = by_select && column_allowed(spec.parent_relid, spec.keys[i].pk_column, ACL_SELECT);
		appendStringInfo(&fk_columns, "%s%s", i > 0 ? ", " : "", quote_identifier(spec.keys[i].fk_column));
		appendStringInfo(&pk_columns, "%s%s", i > 0 ? ", " : "", quote_identifier(spec.keys[i].pk_column));
	}
	if (by_insert || by_select)
		return;
	const char *child = qualified_relation_name(target);
	const char *parent = fkg::relation_name(spec.parent_relation);
	ereport(ERROR,
	        (errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
	         errmsg("permission denied to precheck foreign key \"%s\" of table %s", spec.constraint_name, child),
	         errdetail("fk_precheck tells whether keys exist in %s, as an INSERT into %s would: the current role may "
	                   "neither insert into %s (%s) nor read %s (%s), or row-level security applies to the table.",
	                   parent, child, child, fk_columns.data, parent, pk_columns.data),
	         errhint("GRANT INSERT (%s) ON %s, or GRANT SELECT (%s) ON %s.", fk_columns.data, child, pk_columns.data,
	                 parent)));
}

/* Which table each with_parents staging table will be loaded into: given by
 * parent_tables, or the one referenced table of target's foreign keys whose
 * referenced columns it has (by name). */
StandIn *
map_stand_ins(const Oid *with_parents, int nwith, const Oid *parent_tables, int nparents, bool parents_given,
              const DeclaredForeignKey *keys, int nkeys, Oid target)
{
	if (parents_given && nparents != nwith)
		ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
		                errmsg("parent_tables must have one element per element of with_parents"),
		                errdetail("with_parents has %d, parent_tables %d.", nwith, nparents)));
	if (parents_given && nwith == 0 && nparents > 0)
		ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE), errmsg("parent_tables needs with_parents")));
	StandIn *stand_ins = static_cast<StandIn *>(palloc(sizeof(StandIn) * (nwith + 1)));
	for (int w = 0; w < nwith; w++) {
		Oid staging = with_parents[w];
		Oid parent = InvalidOid;
		if (parents_given) {
			parent = parent_tables[w];
			bool referenced = false;
			for (int k = 0; k < nkeys; k++)
				referenced = referenced || keys[k].spec.parent_relid == parent;
			if (!referenced)
				ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				                errmsg("no foreign key of %s references %s", qualified_relation_name(target),
				                       qualified_relation_name(parent)),
				                errdetail("parent_tables names, for each staging table in with_parents, the table "
				                          "referenced by target's foreign keys that it will be loaded into.")));
		} else {
			for (int k = 0; k < nkeys; k++) {
				const ForeignKeySpec &spec = keys[k].spec;
				bool has_all = true;
				for (int i = 0; i < spec.nkeys && has_all; i++)
					has_all = get_attnum(staging, spec.keys[i].pk_column) != InvalidAttrNumber;
				if (!has_all || spec.parent_relid == parent)
					continue;
				if (OidIsValid(parent))
					ereport(ERROR,
					        (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					         errmsg("staging table %s could be loaded into %s or %s", qualified_relation_name(staging),
					                qualified_relation_name(parent), fkg::relation_name(spec.parent_relation)),
					         errdetail("It has the referenced columns of foreign keys to both."),
					         errhint("Name the table each staging table will be loaded into with "
					                 "parent_tables => ARRAY[...]::regclass[].")));
				parent = spec.parent_relid;
			}
			if (!OidIsValid(parent))
				ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				                errmsg("staging table %s has the referenced columns of no foreign key of %s",
				                       qualified_relation_name(staging), qualified_relation_name(target)),
				                errhint("Name the table it will be loaded into with parent_tables.")));
		}
		stand_ins[w] = StandIn{staging, parent};
	}
	return stand_ins;
}

/*
 * The SQL for one column of a staging table as it will be loaded into
 * column of table into: the staging column of that name converted as INSERT
 * converts it; when the staging table has no such column, NULL if that is
 * what INSERT would put there, else an error (a default is not evaluated: it
 * may be volatile, or have side effects).
 */
const char *
loaded_value_sql(Oid staging, Oid into, const char *column)
{
	AttrNumber into_attnum = get_attnum(into, column);
	Oid type, collation;
	int32 typmod;
	get_atttypetypmodcoll(into, into_attnum, &type, &typmod, &collation);
	HeapTuple tuple = SearchSysCache2(ATTNUM, ObjectIdGetDatum(into), Int16GetDatum(into_attnum));
	if (!HeapTupleIsValid(tuple))
		elog(ERROR, "fk_guard: cache lookup failed for column %d of relation %u", into_attnum, into);
	auto *att = reinterpret_cast<Form_pg_attribute>(GETSTRUCT(tuple));
	bool generated = att->attgenerated != '\0';
	bool defaulted = att->atthasdef || att->attidentity != '\0' || get_typdefault(type) != nullptr;
	ReleaseSysCache(tuple);
	if (generated)
		ereport(ERROR, (errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
		                errmsg("fk_precheck cannot check foreign-key column \"%s\" of %s: it is generated", column,
		                       qualified_relation_name(into)),
		                errdetail("INSERT computes it from the row's other columns; fk_precheck does not.")));
	AttrNumber attnum = get_attnum(staging, column);
	if (attnum == InvalidAttrNumber) {
		if (defaulted)
			ereport(ERROR,
			        (errcode(ERRCODE_UNDEFINED_COLUMN),
			         errmsg("staging table %s has no column \"%s\"", qualified_relation_name(staging), column),
			         errdetail("%s.%s is a foreign-key column with a default, which INSERT would fill in; fk_precheck "
			                   "does not evaluate defaults.",
			                   qualified_relation_name(into), quote_identifier(column)),
			         errhint("Add the column to the staging table, holding the values the load will insert.")));
		/* INSERT would put NULL there */
		return psprintf("NULL::%s", format_type_extended(type, typmod, FORMAT_TYPE_FORCE_QUALIFY));
	}
	Oid staging_type, staging_collation;
	int32 staging_typmod;
	get_atttypetypmodcoll(staging, attnum, &staging_type, &staging_typmod, &staging_collation);
	return fkg::assignment_cast_sql(psprintf("s.%s", quote_identifier(column)), staging_type, staging_typmod, type,
	                                typmod, collation, column);
}

/* Refuses a plan that reads any table but those allowed (a name that no
 * longer denotes the table checked by OID). */
void
require_reads_only(SPIPlanPtr plan, const Oid *allowed, int nallowed)
{
	ListCell *lc;
	foreach (lc, SPI_plan_get_plan_sources(plan)) {
		ListCell *rc;
		foreach (rc, ((CachedPlanSource *) lfirst(lc))->relationOids) {
			bool ok = false;
			for (int i = 0; i < nallowed && !ok; i++)
				ok = lfirst_oid(rc) == allowed[i];
			if (!ok)
				ereport(ERROR,
				        (errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				         errmsg("the tables of fk_precheck changed while it was running"),
				         errdetail("Its query would read relation %u, which it did not check.", lfirst_oid(rc))));
		}
	}
}

void
staging_error_context(void *arg)
{
	errcontext("fk_precheck reading staging table %s as INSERT would", static_cast<const char *>(arg));
}

/* A name for the staged ctid column that no key column has. */
const char *
ctid_column_name(const DeclaredForeignKey *keys, int nkeys)
{
	char *name = pstrdup("fk_guard_ctid");
	for (bool clash = true; clash;) {
		clash = false;
		for (int k = 0; k < nkeys && !clash; k++)
			for (int i = 0; i < keys[k].spec.nkeys && !clash; i++)
				clash = strcmp(keys[k].spec.keys[i].fk_column, name) == 0;
		if (clash)
			name = psprintf("%s_", name);
	}
	return name;
}

/* The source's rows as they would be inserted: ctid, and target's key columns, each once. */
const char *
source_sql(Oid source, Oid target, const DeclaredForeignKey *keys, int nkeys, const char *ctid_column)
{
	StringInfoData sql;
	initStringInfo(&sql);
	appendStringInfo(&sql, "SELECT s.ctid AS %s", quote_identifier(ctid_column));
	for (int k = 0; k < nkeys; k++)
		for (int i = 0; i < keys[k].spec.nkeys; i++) {
			const char *column = keys[k].spec.keys[i].fk_column;
			bool seen = false;
			for (int j = 0; j < k && !seen; j++)
				for (int m = 0; m < keys[j].spec.nkeys && !seen; m++)
					seen = strcmp(keys[j].spec.keys[m].fk_column, column) == 0;
			for (int m = 0; m < i && !seen; m++)
				seen = strcmp(keys[k].spec.keys[m].fk_column, column) == 0;
			if (!seen)
				appendStringInfo(&sql, ", %s AS %s", loaded_value_sql(source, target, column),
				                 quote_identifier(column));
		}
	appendStringInfo(&sql, " FROM ONLY %s s", qualified_relation_name(source));
	return sql.data;
}

/* A with_parents table's rows as they would be loaded into spec's referenced
 * table: spec's referenced columns. */
const char *
stand_in_sql(const ForeignKeySpec &spec, Oid staging)
{
	StringInfoData sql;
	initStringInfo(&sql);
	appendStringInfoString(&sql, "SELECT ");
	for (int i = 0; i < spec.nkeys; i++)
		appendStringInfo(&sql, "%s%s AS %s", i > 0 ? ", " : "",
		                 loaded_value_sql(staging, spec.parent_relid, spec.keys[i].pk_column),
		                 quote_identifier(spec.keys[i].pk_column));
	appendStringInfo(&sql, " FROM ONLY %s s", qualified_relation_name(staging));
	return sql.data;
}

/*
 * Runs sql (over staging only) as staging's owner and keeps its rows in a
 * new ephemeral named relation called name, for the queries that follow.
 * Returns the tuplestore, for the caller to end.
 */
Tuplestorestate *
stage(const char *sql, Oid staging, const char *name)
{
	ErrorContextCallback context;
	context.callback = staging_error_context;
	context.arg = const_cast<char *>(qualified_relation_name(staging));
	context.previous = error_context_stack;
	error_context_stack = &context;

	Tuplestorestate *rows = tuplestore_begin_heap(false, false, work_mem);
	DestReceiver *dest = fkg::compat::tuplestore_receiver(rows, CurrentMemoryContext, nullptr, true);
	fkg::SavedIdentity saved = fkg::become_owner(relation_owner(staging));
	SPIPlanPtr plan = SPI_prepare(sql, 0, nullptr);
	if (plan == nullptr)
		elog(ERROR, "fk_guard: could not prepare the staging query: %s", SPI_result_code_string(SPI_result));
	require_reads_only(plan, &staging, 1);
	TupleDesc desc =
		CreateTupleDescCopy(static_cast<CachedPlanSource *>(linitial(SPI_plan_get_plan_sources(plan)))->resultDesc);
	SPIExecuteOptions options = {};
	options.read_only = true;
	options.dest = dest;
	int rc = SPI_execute_plan_extended(plan, &options);
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "fk_guard: staging query failed: %s", SPI_result_code_string(rc));
	SPI_freeplan(plan);
	fkg::restore_identity(saved);
	dest->rDestroy(dest);
	error_context_stack = context.previous;

	auto *enr = static_cast<EphemeralNamedRelation>(palloc0(sizeof(EphemeralNamedRelationData)));
	enr->md.name = pstrdup(name);
	enr->md.reliddesc = InvalidOid;
	enr->md.tupdesc = desc;
	enr->md.enrtype = ENR_NAMED_TUPLESTORE;
	enr->md.enrtuples = (double) tuplestore_tuple_count(rows);
	enr->reldata = rows;
	if (SPI_register_relation(enr) != SPI_OK_REL_REGISTER)
		elog(ERROR, "fk_guard: could not register \"%s\"", name);
	return rows;
}

/* What one judging query needs: its keys, the relations it may read, who runs it. */
struct Judgement {
	fkg::PrecheckKey *keys;
	int nkeys;
	const Oid *reads;
	int nreads;
	Oid run_as;
	const char *with; /* the staged relations as CTEs ("WITH ..."), or "" when they are ephemeral */
	Oid staging;      /* the source, for the error context when with reads it */
};

/* Judges keys in one pass over the staged rows, as run_as, appending the rows to out. */
void
judge(const Judgement &j, const char *ctid_column, Tuplestorestate *out, TupleDesc desc, MemoryContext out_context)
{
	/* The SQL first: building it may throw (std::bad_alloc), which must not
	 * happen while error_context_stack points into this frame. */
	char **exist_sql = static_cast<char **>(palloc0(sizeof(char *) * j.nkeys));
	for (int k = 0; k < j.nkeys; k++)
		if (fkg::ri_cannot_compare(*j.keys[k].fk))
			exist_sql[k] = fkg::to_palloc(fkg::precheck_checked_rows_exist_query(*j.keys[k].fk, j.with,
			                                                                     kStagedRelation));
	char *rows_sql = fkg::to_palloc(fkg::precheck_rows_query(j.keys, j.nkeys, j.with, kStagedRelation, ctid_column));

	ErrorContextCallback context;
	context.callback = staging_error_context;
	context.arg = const_cast<char *>(qualified_relation_name(j.staging));
	context.previous = error_context_stack;
	if (j.with[0] != '\0')
		error_context_stack = &context;

	DestReceiver *dest = fkg::compat::tuplestore_receiver(out, out_context, desc);
	fkg::SavedIdentity saved = fkg::become_owner(j.run_as);
	bool forbid_hashing = false;
	for (int k = 0; k < j.nkeys; k++)
		forbid_hashing = forbid_hashing || fkg::hashing_may_split(*j.keys[k].fk);
	if (forbid_hashing)
		for (const char *setting : {"enable_hashjoin", "enable_hashagg"})
			(void) set_config_option(setting, "off", PGC_USERSET, PGC_S_SESSION, GUC_ACTION_SAVE, true, 0, false);
	for (int k = 0; k < j.nkeys; k++) {
		const ForeignKeySpec &fk = *j.keys[k].fk;
		if (exist_sql[k] == nullptr)
			continue;
		/* what the INSERT would raise for a row it checks */
		if (SPI_execute(exist_sql[k], true, 1) != SPI_OK_SELECT)
			elog(ERROR, "fk_guard: row check failed");
		bool isnull;
		if (DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull)))
			ereport(ERROR,
			        (errcode(ERRCODE_INDETERMINATE_COLLATION),
			         errmsg("could not determine which collation to use for string comparison"),
			         errdetail("PostgreSQL's own check of foreign key \"%s\" raises this error for every row it "
			                   "checks: it compares the referenced column under its collation with a value of the "
			                   "referencing column's type under that type's collation.",
			                   fk.constraint_name)));
	}
	SPIPlanPtr plan = SPI_prepare_cursor(rows_sql, 0, nullptr, CURSOR_OPT_PARALLEL_OK);
	if (plan == nullptr)
		elog(ERROR, "fk_guard: could not prepare the precheck: %s", SPI_result_code_string(SPI_result));
	require_reads_only(plan, j.reads, j.nreads);
	SPIExecuteOptions options = {};
	options.read_only = true;
	options.dest = dest;
	int rc = SPI_execute_plan_extended(plan, &options);
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "fk_guard: precheck query failed: %s", SPI_result_code_string(rc));
	SPI_freeplan(plan);
	fkg::restore_identity(saved);
	dest->rDestroy(dest);
	error_context_stack = context.previous;
}

/* Whether the with_parents table w stands in for keys[k]'s referenced table
 * (once: a table given twice for one parent counts once). */
bool
stands_in(const StandIn *stand_ins, int w, const DeclaredForeignKey &key)
{
	if (stand_ins[w].parent != key.spec.parent_relid)
		return false;
	for (int v = 0; v < w; v++)
		if (stand_ins[v].staging == stand_ins[w].staging && stand_ins[v].parent == stand_ins[w].parent)
			return false;
	return true;
}

/*
 * Judges every key.  When one role owns the staging tables and every
 * referenced table (one application role, say), a single query does it all
 * as that role: the staging rows are read as CTEs in the same pass.
 * Otherwise the staging rows are first read as their owners into ephemeral
 * named relations, then judged in one query per owner of referenced tables.
 */
void
judge_all(Oid source, Oid target, const DeclaredForeignKey *keys, int nkeys, const StandIn *stand_ins, int nwith,
          ReturnSetInfo *rsinfo)
{
	const char *ctid_column = ctid_column_name(keys, nkeys);
	Oid staging_owner = relation_owner(source);
	bool one_owner = true;
	for (int k = 0; k < nkeys; k++)
		one_owner = one_owner && relation_owner(keys[k].spec.parent_relid) == staging_owner;
	for (int w = 0; w < nwith; w++)
		one_owner = one_owner && relation_owner(stand_ins[w].staging) == staging_owner;

	/* The staged relations: CTEs, or ephemeral named relations read now. */
	StringInfoData with;
	initStringInfo(&with);
	Tuplestorestate **stores = static_cast<Tuplestorestate **>(palloc(sizeof(Tuplestorestate *) * (nkeys * nwith + 2)));
	int nstores = 0;
	const char *sql = source_sql(source, target, keys, nkeys, ctid_column);
	if (one_owner)
		appendStringInfo(&with, "WITH %s AS NOT MATERIALIZED (%s)", quote_identifier(kStagedRelation), sql);
	else
		stores[nstores++] = stage(sql, source, kStagedRelation);
	fkg::PrecheckKey *pks = static_cast<fkg::PrecheckKey *>(palloc(sizeof(fkg::PrecheckKey) * nkeys));
	int staged_parents = 0;
	for (int k = 0; k < nkeys; k++) {
		const char **names = static_cast<const char **>(palloc(sizeof(char *) * (nwith + 1)));
		int n = 0;
		for (int w = 0; w < nwith; w++) {
			if (!stands_in(stand_ins, w, keys[k]))
				continue;
			const char *name = psprintf("fk_guard_parent_%d", ++staged_parents);
			const char *parent_sql = stand_in_sql(keys[k].spec, stand_ins[w].staging);
			if (one_owner)
				appendStringInfo(&with, ", %s AS (%s)", quote_identifier(name), parent_sql);
			else
				stores[nstores++] = stage(parent_sql, stand_ins[w].staging, name);
			names[n++] = name;
		}
		pks[k] = fkg::PrecheckKey{&keys[k].spec, names, n};
	}

	/* One query per role owning referenced tables, in the keys' order. */
	Oid *reads = static_cast<Oid *>(palloc(sizeof(Oid) * (nkeys + nwith + 1)));
	fkg::PrecheckKey *group = static_cast<fkg::PrecheckKey *>(palloc(sizeof(fkg::PrecheckKey) * nkeys));
	bool *done = static_cast<bool *>(palloc0(sizeof(bool) * nkeys));
	for (int first = 0; first < nkeys; first++) {
		if (done[first])
			continue;
		CHECK_FOR_INTERRUPTS();
		Oid owner = relation_owner(keys[first].spec.parent_relid);
		int ngroup = 0, nreads = 0;
		if (one_owner) {
			reads[nreads++] = source;
			for (int w = 0; w < nwith; w++)
				reads[nreads++] = stand_ins[w].staging;
		}
		for (int k = first; k < nkeys; k++)
			if (!done[k] && relation_owner(keys[k].spec.parent_relid) == owner) {
				done[k] = true;
				group[ngroup++] = pks[k];
				reads[nreads++] = keys[k].spec.parent_relid;
			}
		Judgement j{group, ngroup, reads, nreads, owner, one_owner ? with.data : "", source};
		judge(j, ctid_column, rsinfo->setResult, rsinfo->setDesc, rsinfo->econtext->ecxt_per_query_memory);
	}
	for (int i = 0; i < nstores; i++)
		tuplestore_end(stores[i]);
}

} // namespace

/* fk_precheck(source regclass, target regclass, with_parents regclass[], parent_tables regclass[]) */
FKG_FUNCTION(fk_precheck)
{
	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		ereport(ERROR, (errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED), errmsg("source and target must not be NULL")));
	Oid source = PG_GETARG_OID(0);
	Oid target = PG_GETARG_OID(1);
	check_staging_table(source, "source");
	fkg::check_target_is_table(target);
	int nwith = 0, nparents = 0;
	Oid *with_parents = regclass_array(fcinfo, 2, "with_parents", &nwith);
	Oid *parent_tables = regclass_array(fcinfo, 3, "parent_tables", &nparents);
	for (int w = 0; w < nwith; w++)
		check_staging_table(with_parents[w], "with_parents table");
	for (int p = 0; p < nparents; p++)
		fkg::check_target_is_table(parent_tables[p]);

	ReturnSetInfo *rsinfo = fkg::compat::init_materialized_srf(fcinfo);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "fk_guard: SPI_connect failed");

	/* The catalog facts are read under the locks that keep them (twice:
	 * the referenced tables are known only from the first reading). */
	Oid *relids = static_cast<Oid *>(palloc(sizeof(Oid) * (nwith + 2)));
	relids[0] = source;
	relids[1] = target;
	memcpy(relids + 2, with_parents, sizeof(Oid) * nwith);
	lock_relations(relids, nwith + 2);
	int nkeys = 0;
	DeclaredForeignKey *keys = target_foreign_keys(target, &nkeys, nullptr);
	Oid *parents = static_cast<Oid *>(palloc(sizeof(Oid) * (nkeys + 1)));
	for (int k = 0; k < nkeys; k++)
		parents[k] = keys[k].spec.parent_relid;
	lock_relations(parents, nkeys);
	StringInfoData not_enforced;
	initStringInfo(&not_enforced);
	keys = target_foreign_keys(target, &nkeys, &not_enforced);

	notice_partition_keys(target);
	if (not_enforced.len > 0)
		ereport(NOTICE, (errmsg("fk_precheck does not check the NOT ENFORCED foreign keys of %s",
		                        qualified_relation_name(target)),
		                 errdetail("INSERT does not check them either: %s.", not_enforced.data)));
	if (nkeys == 0) {
		ereport(NOTICE, (errmsg("table %s has no foreign keys", qualified_relation_name(target)),
		                 errdetail("No staging row can violate one.")));
		SPI_finish();
		return (Datum) 0;
	}
	for (int k = 0; k < nkeys; k++) {
		switch (keys[k].refusal) {
		case fkg::Refusal::kTemporal:
		case fkg::Refusal::kOtherSessionTemp:
		case fkg::Refusal::kUnloggedInRecovery:
			fkg::raise_refusal(keys[k]);
		default:
			break; /* the others are about reading target, which fk_precheck does not */
		}
		require_may_learn_keys(keys[k], target);
	}
	StandIn *stand_ins = map_stand_ins(with_parents, nwith, parent_tables, nparents, !PG_ARGISNULL(3), keys, nkeys,
	                                   target);
	judge_all(source, target, keys, nkeys, stand_ins, nwith, rsinfo);
	SPI_finish();
	return (Datum) 0;
}
