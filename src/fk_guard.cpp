/*
 * fk_guard.cpp
 *    Module entry: PG_MODULE_MAGIC and _PG_init.
 *
 * fk_orphans and fk_orphan_summary need no initialisation and work without
 * shared_preload_libraries.  Violation capture needs shared memory and hooks in
 * every backend, so it is set up only when preloaded; loaded explicitly in any
 * other way (LOAD, session_preload_libraries, local_preload_libraries) fk_guard
 * says that capture is off instead of staying silent.
 */
#include "capture/bypass_capture.h"
#include "capture/bypass_store.h"
#include "capture/constraint_cache.h"
#include "common/guc.h"
#include "common/pg_boundary.h"
#include "capture/violation_capture.h"
#include "capture/violation_store.h"

extern "C" {
#include "postgres.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "tcop/pquery.h"
#include "utils/portal.h"

PG_MODULE_MAGIC;

PGDLLEXPORT void _PG_init(void);
}

namespace {

/*
 * True when the library is being loaded on purpose other than through
 * shared_preload_libraries; false when fmgr loads it to call one of its
 * functions (or to validate them, in CREATE EXTENSION), the normal use
 * without preloading.  PostgreSQL 15 has no flag for these cases, so:
 *  - session_preload_libraries and local_preload_libraries are processed
 *    inside InitPostgres, in a client backend still in InitProcessing mode
 *    (PostgresMain switches to NormalProcessing after it; parallel and other
 *    background workers load their libraries in NormalProcessing).  No
 *    function of ours can be called before that.
 *  - LOAD: the portal running the statement has the LOAD command tag.  A LOAD
 *    run through SPI (EXECUTE 'LOAD ...' in a function) runs under its
 *    caller's portal and is not recognised.
 */
bool
loaded_on_purpose()
{
	if (MyBackendType == B_BACKEND && IsInitProcessingMode())
		return true;
	return ActivePortal != nullptr && ActivePortal->commandTag == CMDTAG_LOAD;
}

void
warn_capture_off()
{
	ereport(WARNING, (errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE), errmsg("fk_guard: violation capture is off"),
	                  errdetail("Violation capture needs shared memory and hooks set up at server start: fk_guard "
	                            "must be loaded through shared_preload_libraries."),
	                  errhint("Add fk_guard to shared_preload_libraries and restart the server.")));
}

} // namespace

extern "C" void
_PG_init(void)
{
	fkg::invoke([]() {
		fkg::guc::define_audit();
		fkg::guc::define_orphans();
		if (!process_shared_preload_libraries_in_progress) {
			if (loaded_on_purpose())
				warn_capture_off();
			return (Datum) 0;
		}
		fkg::guc::define_capture();
		fkg::violation_store_install_hooks();
		fkg::constraint_cache_init();
		fkg::violation_capture_install();
		if (fkg::guc::track_bypass) {
			fkg::bypass_store_install_hooks();
			fkg::bypass_capture_install();
		}
		return (Datum) 0;
	});
}
