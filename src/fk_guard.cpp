/*
 * fk_guard.cpp
 *    Module entry: PG_MODULE_MAGIC and _PG_init.
 *
 * fk_orphans and fk_orphan_summary need no initialisation and work without
 * shared_preload_libraries.  Violation capture needs shared memory and hooks in
 * every backend, so it is set up only when preloaded.
 */
#include "constraint_cache.h"
#include "guc.h"
#include "pg_boundary.h"
#include "violation_capture.h"
#include "violation_store.h"

extern "C" {
#include "postgres.h"
#include "fmgr.h"
#include "miscadmin.h"

PG_MODULE_MAGIC;

PGDLLEXPORT void _PG_init(void);

void
_PG_init(void)
{
	if (!process_shared_preload_libraries_in_progress)
		return;
	fkg::invoke([]() {
		fkg::guc::define();
		fkg::violation_store_install_hooks();
		fkg::constraint_cache_init();
		fkg::violation_capture_install();
		return (Datum) 0;
	});
}
}
