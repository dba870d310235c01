/*
 * violation_writer.h
 *    Writing one violation out: to shared memory and, one line, to the log.
 */
#ifndef FK_GUARD_VIOLATION_WRITER_H
#define FK_GUARD_VIOLATION_WRITER_H

#include "capture/violation_event.h"

namespace fkg {

/* Completes what the error path could not know (as far as the constraint
 * cache can tell now), then records e in shared memory and logs it.  Takes
 * the store's LWLock: not from emit_log_hook. */
void write_violation(ViolationEvent *e);

/* What write_violation completes, for callers that only count (the names a
 * counter is kept under). */
void complete_violation(ViolationEvent *e);

} // namespace fkg

#endif /* FK_GUARD_VIOLATION_WRITER_H */
