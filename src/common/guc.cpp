/*
 * guc.cpp
 *    fk_guard.* configuration parameters.
 */
#include "common/guc.h"


extern "C" {
#include "postgres.h"
#include "utils/guc.h"
}

namespace fkg::guc {

bool log_violations = true;
int log_format = kLogText;
int max_query_length = 1024;
bool client_hint = false;
int max_violations = 1000;
char *audit_retention = nullptr;

static const struct config_enum_entry kLogFormats[] = {
	{"text", kLogText, false},
	{"json", kLogJson, false},
	{nullptr, 0, false},
};

void
define()
{
	DefineCustomBoolVariable("fk_guard.log_violations", "Logs every foreign-key violation with its context.",
	                         nullptr, &log_violations, true, PGC_SUSET, 0, nullptr, nullptr, nullptr);
	DefineCustomEnumVariable("fk_guard.log_format", "Format of fk_guard's log lines: text or json.",
	                         "json writes one JSON object per line, with stable keys.", &log_format, kLogText,
	                         kLogFormats, PGC_SUSET, 0, nullptr, nullptr, nullptr);
	DefineCustomIntVariable("fk_guard.max_query_length", "Longest statement text kept with a violation, in bytes.",
	                        nullptr, &max_query_length, 1024, 0, kMaxQueryLength, PGC_SUSET, GUC_UNIT_BYTE, nullptr,
	                        nullptr, nullptr);
	DefineCustomBoolVariable("fk_guard.client_hint", "Adds a HINT with the fix to foreign-key violation errors.",
	                         "PostgreSQL's own HINT, when it sets one, is kept.", &client_hint, false, PGC_SUSET, 0,
	                         nullptr, nullptr, nullptr);
	DefineCustomIntVariable("fk_guard.max_violations", "Number of recent violations kept in shared memory.",
	                        nullptr, &max_violations, 1000, kMinViolations, kMaxViolations, PGC_POSTMASTER, 0, nullptr, nullptr,
	                        nullptr);
	DefineCustomStringVariable("fk_guard.audit_retention", "How long fk_audit_run() keeps its history.",
	                           "An interval; older runs are deleted when an audit starts.", &audit_retention,
	                           kDefaultAuditRetention, PGC_SUSET, 0, nullptr, nullptr, nullptr);
	MarkGUCPrefixReserved("fk_guard");
}

} // namespace fkg::guc
