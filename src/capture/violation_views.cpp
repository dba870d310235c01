/*
 * violation_views.cpp
 *    SQL functions behind fk_violations, fk_violation_stats, fk_guard_reset and
 *    fk_guard_constraint_violations (the shared-memory side of violation capture).
 */
#include "common/compat.h"
#include "common/pg_boundary.h"
#include "capture/violation_store.h"

extern "C" {
#include "miscadmin.h"
#include "utils/builtins.h"
}

namespace {

/* Views need the shared memory that only preloading creates. */
void
require_preloaded()
{
	if (!fkg::violation_store_attached())
		ereport(ERROR, (errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
		                errmsg("fk_guard must be loaded via shared_preload_libraries"),
		                errhint("Add fk_guard to shared_preload_libraries in postgresql.conf and restart the "
		                        "server. fk_orphans() and fk_orphan_summary() work without it.")));
}

} // namespace

FKG_FUNCTION(fk_guard_preloaded)
{
	PG_RETURN_BOOL(fkg::violation_store_attached());
}

FKG_FUNCTION(fk_violations_internal)
{
	require_preloaded();
	ReturnSetInfo *rsinfo = fkg::compat::init_materialized_srf(fcinfo);
	fkg::violation_store_read_ring(rsinfo);
	return (Datum) 0;
}

FKG_FUNCTION(fk_violation_stats_internal)
{
	require_preloaded();
	ReturnSetInfo *rsinfo = fkg::compat::init_materialized_srf(fcinfo);
	fkg::violation_store_read_counters(rsinfo);
	return (Datum) 0;
}

FKG_FUNCTION(fk_guard_constraint_violations)
{
	ReturnSetInfo *rsinfo = fkg::compat::init_materialized_srf(fcinfo);
	if (fkg::violation_store_attached())
		fkg::violation_store_read_constraint_counts(rsinfo);
	return (Datum) 0;
}

FKG_FUNCTION(fk_guard_reset)
{
	require_preloaded();
	fkg::violation_store_reset();
	PG_RETURN_VOID();
}
