/*
 * guc.h
 *    fk_guard's configuration parameters: those of violation capture, defined
 *    when preloaded, and fk_guard.audit_retention, defined whenever the
 *    library is loaded (fk_audit_run()'s first step loads it).
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
extern bool log_bypass;
extern bool track_bypass; /* fixed at server start */
extern int log_format;
extern int max_query_length;
extern bool client_hint;
extern int max_violations;
extern char *audit_retention; /* a positive interval, checked when set */

/* fk_guard.orphan_engine: how fk_orphans() and friends check each foreign key. */
enum OrphanEngine { kEngineAuto = 0, kEngineOnePass = 1, kEnginePlanner = 2 };
extern int orphan_engine;

/* fk_guard.include_extension_tables: whether the all-tables scans (fk_orphans(),
 * fk_orphan_summary(), fk_audit_run() and fk_audit without a target) cover the
 * foreign keys of tables that belong to an extension (pg_depend 'e'). */
extern bool include_extension_tables;

/* Defines fk_guard.audit_retention; from _PG_init, preloaded or not. */
void define_audit();

/* Defines fk_guard.orphan_engine; from _PG_init, preloaded or not. */
void define_orphans();

/* Defines the capture parameters and reserves the prefix; only from _PG_init
 * while preloading (fk_guard.max_violations is fixed at server start). */
void define_capture();

} // namespace fkg::guc

#endif /* FK_GUARD_GUC_H */
