/*
 * violation_capture.h
 *    The hooks that see every foreign-key violation (see violation_capture.cpp).
 */
#ifndef FK_GUARD_VIOLATION_CAPTURE_H
#define FK_GUARD_VIOLATION_CAPTURE_H

namespace fkg {

/* _PG_init, when preloaded: installs the executor, utility and log hooks and
 * the transaction callbacks. */
void violation_capture_install();

} // namespace fkg

#endif /* FK_GUARD_VIOLATION_CAPTURE_H */
