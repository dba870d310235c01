/*
 * guc.h
 *    fk_guard's configuration parameters (defined when preloaded).
 */
#ifndef FK_GUARD_GUC_H
#define FK_GUARD_GUC_H

namespace fkg {

/* The upper bound of fk_guard.max_query_length: the statement text a violation keeps. */
constexpr int kMaxQueryLength = 4096;

} // namespace fkg

namespace fkg::guc {

enum LogFormat { kLogText = 0, kLogJson = 1 };

/* The range of fk_guard.max_violations (the shared ring's slots). */
constexpr int kMinViolations = 16;
constexpr int kMaxViolations = 1000000;

extern bool log_violations;
extern int log_format;
extern int max_query_length;
extern bool client_hint;
extern int max_violations;
extern char *audit_retention; /* read by fk_audit_run()'s steps through GetConfigOption() */

/* fk_guard.audit_retention's default, also used when fk_guard is not preloaded. */
constexpr const char *kDefaultAuditRetention = "90 days";

/* Defines every fk_guard.* parameter; only from _PG_init while preloading. */
void define();

} // namespace fkg::guc

#endif /* FK_GUARD_GUC_H */
