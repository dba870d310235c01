/*
 * compat.h
 *    Every PostgreSQL-version-specific call fk_guard makes, in one place.
 *    Written against PostgreSQL 15; a port to another major version changes this file.
 */
#ifndef FK_GUARD_COMPAT_H
#define FK_GUARD_COMPAT_H

extern "C" {
#include "postgres.h"
#include "executor/tstoreReceiver.h"
#include "funcapi.h"
#include "utils/acl.h"
#include "utils/guc.h"
}

#if PG_VERSION_NUM < 150000
#error "fk_guard needs PostgreSQL 15 or later"
#endif

namespace fkg::compat {

/* A DestReceiver appending a query's rows to tupstore, converted to target's row type. */
inline DestReceiver *
tuplestore_receiver(Tuplestorestate *tupstore, MemoryContext context, TupleDesc target)
{
	DestReceiver *dest = CreateDestReceiver(DestTuplestore);
	SetTuplestoreDestReceiverParams(dest, tupstore, context, false, target,
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

/* True when role may execute the function or procedure proc.  (PostgreSQL 16
 * replaced pg_proc_aclcheck with object_aclcheck.) */
inline bool
may_execute(Oid proc, Oid role)
{
#if PG_VERSION_NUM >= 160000
	return object_aclcheck(ProcedureRelationId, proc, role, ACL_EXECUTE) == ACLCHECK_OK;
#else
	return pg_proc_aclcheck(proc, role, ACL_EXECUTE) == ACLCHECK_OK;
#endif
}

/* Pins search_path to pg_catalog, pg_temp in the current GUC nest level, as
 * PostgreSQL 17's RestrictSearchPath() does for maintenance commands. */
inline void
restrict_search_path()
{
#if PG_VERSION_NUM >= 170000
	RestrictSearchPath();
#else
	(void) set_config_option("search_path", "pg_catalog, pg_temp", PGC_USERSET, PGC_S_SESSION, GUC_ACTION_SAVE, true,
	                         0, false);
#endif
}

} // namespace fkg::compat

#endif /* FK_GUARD_COMPAT_H */
