/*
 * compat.h
 *    Every PostgreSQL-version-specific call fk_guard makes, in one place.
 *    fk_guard supports PostgreSQL 15 to 18 (tested: 15, 16 and 18; 17 is not
 *    built here: which side of each conditional it takes follows the release
 *    each change landed in).  Every PG_VERSION_NUM conditional lives here, each
 *    with a comment naming the upstream change it follows; the rest of the
 *    code calls these helpers and macros.
 */
#ifndef FK_GUARD_COMPAT_H
#define FK_GUARD_COMPAT_H

extern "C" {
#include "postgres.h"
#include "catalog/pg_namespace.h"
#include "catalog/pg_proc.h"
#include "executor/executor.h"
#include "executor/tstoreReceiver.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "storage/lock.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/guc_tables.h"
#include "utils/timestamp.h"
#if PG_VERSION_NUM >= 160000
#include "nodes/miscnodes.h"
#endif
#if PG_VERSION_NUM >= 180000
#include "access/htup_details.h"
#include "catalog/pg_constraint.h"
#include "utils/syscache.h"
#endif
}

#if PG_VERSION_NUM < 150000
#error "fk_guard needs PostgreSQL 15 or later"
#endif

/*
 * ExecutorRun_hook's parameters, and the arguments that pass them on.
 * PostgreSQL 18 removed ExecutorRun()'s execute_once argument, and with it the
 * hook type's (executor/executor.h, ExecutorRun_hook_type, PostgreSQL 18).
 */
#if PG_VERSION_NUM >= 180000
#define FKG_EXECUTOR_RUN_PARAMS QueryDesc *query, ScanDirection direction, uint64 count
#define FKG_EXECUTOR_RUN_ARGS query, direction, count
#else
#define FKG_EXECUTOR_RUN_PARAMS QueryDesc *query, ScanDirection direction, uint64 count, bool execute_once
#define FKG_EXECUTOR_RUN_ARGS query, direction, count, execute_once
#endif

/*
 * An SQL expression over pg_constraint c (for catalog queries), true for a
 * temporal foreign key (... PERIOD col).  PostgreSQL 18 added them with the
 * column (catalog/pg_constraint.h: conperiod; 17's were reverted before
 * release); before 18 no foreign key is temporal.
 */
#if PG_VERSION_NUM >= 180000
#define FKG_SQL_CONPERIOD "c.conperiod"
#else
#define FKG_SQL_CONPERIOD "false"
#endif

namespace fkg::compat {

/* True for the SQLSTATEs ri_triggers.c raises a foreign-key violation with:
 * 23503, and from PostgreSQL 18 also 23001 (restrict_violation) for the
 * referenced side of an ON UPDATE/ON DELETE RESTRICT key, with its own message
 * ("... violates RESTRICT setting of foreign key constraint ...": ri_triggers.c,
 * ri_ReportViolation(), PostgreSQL 18). */
inline bool
is_ri_violation_sqlstate(int sqlerrcode)
{
#if PG_VERSION_NUM >= 180000
	return sqlerrcode == ERRCODE_FOREIGN_KEY_VIOLATION || sqlerrcode == ERRCODE_RESTRICT_VIOLATION;
#else
	return sqlerrcode == ERRCODE_FOREIGN_KEY_VIOLATION;
#endif
}

/* False for a NOT ENFORCED foreign key, which checks no row written: PostgreSQL
 * 18 added them (catalog/pg_constraint.h: conenforced); before, every foreign
 * key is enforced. */
inline bool
constraint_enforced(Oid constraint_oid)
{
#if PG_VERSION_NUM >= 180000
	HeapTuple tuple = SearchSysCache1(CONSTROID, ObjectIdGetDatum(constraint_oid));
	if (!HeapTupleIsValid(tuple))
		elog(ERROR, "fk_guard: cache lookup failed for constraint %u", constraint_oid);
	bool enforced = ((Form_pg_constraint) GETSTRUCT(tuple))->conenforced;
	ReleaseSysCache(tuple);
	return enforced;
#else
	(void) constraint_oid;
	return true;
#endif
}

/* A DestReceiver appending a query's rows to tupstore, converted to target's
 * row type (target null: as they are); detoast stores values, not pointers
 * into a table's TOAST relation. */
inline DestReceiver *
tuplestore_receiver(Tuplestorestate *tupstore, MemoryContext context, TupleDesc target, bool detoast = false)
{
	DestReceiver *dest = CreateDestReceiver(DestTuplestore);
	SetTuplestoreDestReceiverParams(dest, tupstore, context, detoast, target,
	                                "fk_guard: query result does not match the function's row type");
	return dest;
}

/* Sets up a materialized set-returning function's tuplestore (rsinfo->setResult). */
inline ReturnSetInfo *
init_materialized_srf(FunctionCallInfo fcinfo)
{
	InitMaterializedSRF(fcinfo, 0);
	return reinterpret_cast<ReturnSetInfo *>(fcinfo->resultinfo);
}

/* True when role holds mode on a function or procedure (classid
 * ProcedureRelationId) or a schema (NamespaceRelationId).  (PostgreSQL 16
 * replaced pg_proc_aclcheck and pg_namespace_aclcheck with object_aclcheck.) */
inline bool
object_allowed(Oid classid, Oid objectid, Oid role, AclMode mode)
{
#if PG_VERSION_NUM >= 160000
	return object_aclcheck(classid, objectid, role, mode) == ACLCHECK_OK;
#else
	return (classid == ProcedureRelationId ? pg_proc_aclcheck(objectid, role, mode)
	                                       : pg_namespace_aclcheck(objectid, role, mode)) == ACLCHECK_OK;
#endif
}

/* True when this backend holds mode on the relation relid (PostgreSQL 17 added
 * LockHeldByMe()'s orstronger argument; before, the mode must be held exactly). */
inline bool
relation_locked_by_me(Oid relid, LOCKMODE mode)
{
	LOCKTAG tag;
	SET_LOCKTAG_RELATION(tag, MyDatabaseId, relid);
#if PG_VERSION_NUM >= 170000
	return LockHeldByMe(&tag, mode, true);
#else
	return LockHeldByMe(&tag, mode);
#endif
}

/* True when role may execute the function or procedure proc. */
inline bool
may_execute(Oid proc, Oid role)
{
	return object_allowed(ProcedureRelationId, proc, role, ACL_EXECUTE);
}

/* True when role may use (look objects up in) the schema nsp. */
inline bool
may_use_namespace(Oid nsp, Oid role)
{
	return object_allowed(NamespaceRelationId, nsp, role, ACL_USAGE);
}

/* Pins search_path to pg_catalog, pg_temp in the current GUC nest level, as
 * PostgreSQL 17's RestrictSearchPath() does for maintenance commands. */
inline void
restrict_search_path()
{
#if PG_VERSION_NUM >= 170000
	RestrictSearchPath();
#else
	(void) set_config_option("search_path", "pg_catalog, pg_temp", PGC_USERSET, PGC_S_SESSION, GUC_ACTION_SAVE, true, 0,
	                         false);
#endif
}

/* True when text reads as an interval greater than zero; never raises, so
 * that GUC check hooks can use it.  (PostgreSQL 16 added soft input errors,
 * ErrorSaveContext; before, the parse error is caught and discarded, which
 * is safe because interval_in holds no resources.) */
inline bool
is_positive_interval(const char *text)
{
	if (text == nullptr)
		return false;
	Datum value;
#if PG_VERSION_NUM >= 160000
	ErrorSaveContext escontext = {T_ErrorSaveContext};
	if (!DirectInputFunctionCallSafe(interval_in, const_cast<char *>(text), INTERVALOID, -1,
	                                 reinterpret_cast<Node *>(&escontext), &value))
		return false;
#else
	MemoryContext context = CurrentMemoryContext;
	volatile bool parsed = false;
	volatile Datum parsed_value = (Datum) 0;
	PG_TRY();
	{
		parsed_value = DirectFunctionCall3(interval_in, CStringGetDatum(text), ObjectIdGetDatum(InvalidOid),
		                                   Int32GetDatum(-1));
		parsed = true;
	}
	PG_CATCH();
	{
		MemoryContextSwitchTo(context);
		FlushErrorState();
	}
	PG_END_TRY();
	if (!parsed)
		return false;
	value = parsed_value;
#endif
	Interval *zero = static_cast<Interval *>(palloc0(sizeof(Interval)));
	return DatumGetBool(DirectFunctionCall2(interval_gt, value, IntervalPGetDatum(zero)));
}

/* The built-in setting name (nullptr: none), to chain its assign hook.
 * PostgreSQL 16 made find_option() extern (utils/guc_tables.h); before, the
 * array of get_guc_variables() is searched. */
inline struct config_generic *
find_setting(const char *name)
{
#if PG_VERSION_NUM >= 160000
	return find_option(name, false, true, ERROR);
#else
	struct config_generic **settings = get_guc_variables();
	int n = GetNumConfigOptions();
	for (int i = 0; i < n; i++)
		if (pg_strcasecmp(settings[i]->name, name) == 0)
			return settings[i];
	return nullptr;
#endif
}

} // namespace fkg::compat

#endif /* FK_GUARD_COMPAT_H */
