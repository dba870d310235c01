/*
 * violation_store.cpp
 *    Shared memory for violation capture.  (Stub: filled in by the violation
 *    capture work; until then nothing is attached.)
 */
#include "violation_store.h"

namespace fkg {

void
violation_store_request()
{
}

bool
violation_store_attached()
{
	return false;
}

void
violation_store_read_ring(ReturnSetInfo *)
{
}

void
violation_store_read_counters(ReturnSetInfo *)
{
}

void
violation_store_read_constraint_counts(ReturnSetInfo *)
{
}

void
violation_store_reset()
{
}

} // namespace fkg
