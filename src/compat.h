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

} // namespace fkg::compat

#endif /* FK_GUARD_COMPAT_H */
