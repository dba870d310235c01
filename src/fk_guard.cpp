/*
 * fk_guard.cpp
 *    Module entry: PG_MODULE_MAGIC and _PG_init.
 *
 * fk_orphans and fk_orphan_summary need no initialisation and work without
 * shared_preload_libraries.
 */
extern "C" {
#include "postgres.h"
#include "fmgr.h"

PG_MODULE_MAGIC;

PGDLLEXPORT void _PG_init(void);

void
_PG_init(void)
{
}
}
