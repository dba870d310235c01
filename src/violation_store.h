/*
 * violation_store.h
 *    Shared memory for violation capture: a ring of recent violations and
 *    per-constraint counters (see violation_store.cpp for the locking protocol).
 */
#ifndef FK_GUARD_VIOLATION_STORE_H
#define FK_GUARD_VIOLATION_STORE_H

extern "C" {
#include "postgres.h"
#include "funcapi.h"
}

namespace fkg {

/* _PG_init, when preloaded: reserve shared memory and install the shmem hooks. */
void violation_store_request();
/* True when the shared memory exists (fk_guard was preloaded). */
bool violation_store_attached();

void violation_store_read_ring(ReturnSetInfo *rsinfo);
void violation_store_read_counters(ReturnSetInfo *rsinfo);
void violation_store_read_constraint_counts(ReturnSetInfo *rsinfo);
void violation_store_reset();

} // namespace fkg

#endif /* FK_GUARD_VIOLATION_STORE_H */
