/*
 * guc.cpp
 *    fk_guard.* configuration parameters.
 */
#include "common/guc.h"

#include "common/compat.h"
#include "common/pg_boundary.h"

extern "C" {
#include "postgres.h"
#include "utils/guc.h"
}

namespace fkg::guc {

namespace {

/* Each setting's default, written once: the C variable starts with it and
 * PostgreSQL is told it as the boot value. */
constexpr bool kDefaultLogViolations = true;
constexpr bool kDefaultLogBypass = true;
constexpr bool kDefaultTrackBypass = true;
constexpr int kDefaultLogFormat = kLogText;
constexpr int kDefaultMaxQueryLength = 1024;
constexpr bool kDefaultClientHint = false;
constexpr int kDefaultMaxViolations = 1000;
constexpr const char *kDefaultAuditRetention = "90 days";
constexpr int kDefaultOrphanEngine = kEngineAuto;
constexpr bool kDefaultIncludeExtensionTables = false;

} // namespace

bool log_violations = kDefaultLogViolations;
bool log_bypass = kDefaultLogBypass;
bool track_bypass = kDefaultTrackBypass;
int log_format = kDefaultLogFormat;
int max_query_length = kDefaultMaxQueryLength;
bool client_hint = kDefaultClientHint;
int max_violations = kDefaultMaxViolations;
char *audit_retention = nullptr; /* PostgreSQL sets string settings: a copy of kDefaultAuditRetention */
int orphan_engine = kDefaultOrphanEngine;
bool include_extension_tables = kDefaultIncludeExtensionTables;

namespace {

const struct config_enum_entry kLogFormats[] = {
	{"text", kLogText, false},
	{"json", kLogJson, false},
	{nullptr, 0, false},
};

const struct config_enum_entry kOrphanEngines[] = {
	{"auto", kEngineAuto, false},
	{"one_pass", kEngineOnePass, false},
	{"planner", kEnginePlanner, false},
	{nullptr, 0, false},
};

/* fk_guard.audit_retention must be an interval longer than zero: an audit
 * deletes the history older than it, so a typo must not delete it all. */
bool
check_audit_retention(char **newval, void **extra, GucSource source)
{
	/* A callback PostgreSQL calls: through the boundary, like every entry point. */
	return DatumGetBool(fkg::invoke([newval]() {
		if (!compat::is_positive_interval(*newval)) {
			GUC_check_errdetail("fk_guard.audit_retention must be an interval greater than zero, such as '90 days'.");
			return BoolGetDatum(false);
		}
		return BoolGetDatum(true);
	}));
}

} // namespace

void
define_audit()
{
	DefineCustomStringVariable("fk_guard.audit_retention", "How long fk_audit_run() keeps its history.",
	                           "An interval; older runs are deleted when an audit starts.", &audit_retention,
	                           kDefaultAuditRetention, PGC_SUSET, 0, check_audit_retention, nullptr, nullptr);
}

void
define_orphans()
{
	DefineCustomEnumVariable(
		"fk_guard.orphan_engine", "How fk_orphans(), fk_orphan_summary() and fk_audit_run() check foreign keys.",
		"auto: one pass over each table for every foreign key it can take, unless the referenced keys "
		"are estimated to exceed work_mem * hash_mem_multiplier; one_pass: the one pass wherever it "
		"applies; planner: one query per foreign key. fk_orphan_plan() shows each key's choice.",
		&orphan_engine, kDefaultOrphanEngine, kOrphanEngines, PGC_USERSET, 0, nullptr, nullptr, nullptr);
	DefineCustomBoolVariable(
		"fk_guard.include_extension_tables",
		"Whether checks of every table cover the foreign keys of tables that belong to an extension.",
		"Off: fk_orphans(), fk_orphan_summary(), fk_audit_run() and fk_audit leave out the foreign keys of "
		"extension members (such as Citus's pg_dist_* catalogs), as pg_dump leaves out their tables; a table "
		"named as target is always checked.",
		&include_extension_tables, kDefaultIncludeExtensionTables, PGC_USERSET, 0, nullptr, nullptr, nullptr);
}

void
define_capture()
{
	DefineCustomBoolVariable("fk_guard.log_violations", "Logs every foreign-key violation with its context.", nullptr,
	                         &log_violations, kDefaultLogViolations, PGC_SUSET, 0, nullptr, nullptr, nullptr);
	DefineCustomBoolVariable("fk_guard.track_bypass",
	                         "Counts the rows written while a foreign key's RI triggers do not fire.",
	                         "Off: no bypass counters, and incremental audits check every foreign key.", &track_bypass,
	                         kDefaultTrackBypass, PGC_POSTMASTER, 0, nullptr, nullptr, nullptr);
	DefineCustomBoolVariable("fk_guard.log_bypass",
	                         "Logs every statement that writes rows a foreign key's RI triggers do not check, and "
	                         "every ALTER TABLE that stops RI triggers from firing.",
	                         nullptr, &log_bypass, kDefaultLogBypass, PGC_SUSET, 0, nullptr, nullptr, nullptr);
	DefineCustomEnumVariable("fk_guard.log_format", "Format of fk_guard's log lines: text or json.",
	                         "json writes one JSON object per line, with stable keys.", &log_format, kDefaultLogFormat,
	                         kLogFormats, PGC_SUSET, 0, nullptr, nullptr, nullptr);
	DefineCustomIntVariable("fk_guard.max_query_length", "Longest statement text kept with a violation, in bytes.",
	                        nullptr, &max_query_length, kDefaultMaxQueryLength, 0, kMaxQueryLength, PGC_SUSET,
	                        GUC_UNIT_BYTE, nullptr, nullptr, nullptr);
	DefineCustomBoolVariable("fk_guard.client_hint", "Adds a HINT with the fix to foreign-key violation errors.",
	                         "PostgreSQL's own HINT, when it sets one, is kept.", &client_hint, kDefaultClientHint,
	                         PGC_SUSET, 0, nullptr, nullptr, nullptr);
	DefineCustomIntVariable("fk_guard.max_violations", "Number of recent violations kept in shared memory.", nullptr,
	                        &max_violations, kDefaultMaxViolations, kMinViolations, kMaxViolations, PGC_POSTMASTER, 0,
	                        nullptr, nullptr, nullptr);
	MarkGUCPrefixReserved("fk_guard");
}

} // namespace fkg::guc
