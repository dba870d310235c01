/*
 * bypass_capture.h
 *    The hooks that see writes a foreign key's RI triggers did not check
 *    (see bypass_capture.cpp).
 */
#ifndef FK_GUARD_BYPASS_CAPTURE_H
#define FK_GUARD_BYPASS_CAPTURE_H

namespace fkg {

/* _PG_init, when preloaded: installs ExecutorEnd and ProcessUtility hooks and
 * a transaction callback. */
void bypass_capture_install();

} // namespace fkg

#endif /* FK_GUARD_BYPASS_CAPTURE_H */
