/*
 * violation_writer.cpp
 *    Writing one violation out (see violation_writer.h).
 */
#include "capture/violation_writer.h"

#include "capture/constraint_cache.h"
#include "capture/violation_classify.h"
#include "capture/violation_store.h"
#include "common/clipped_copy.h"
#include "common/guc.h"
#include "common/pg_boundary.h"

extern "C" {
#include "postgres.h"
#include "mb/pg_wchar.h"
#include "utils/builtins.h"
#include "utils/elog.h"
}

namespace fkg {

/* The whole log line in palloc'd memory, or NULL when it could not be made.
 * Its std::string is gone when this returns (pg_boundary.h, rule 3). */
static char *
render_log_line(const ViolationEvent &e, int64 recent, bool json, bool utf8) noexcept
{
	try {
		return to_palloc(json ? log_line_json(e, recent, utf8) : log_line_text(e, recent, utf8));
	} catch (...) {
		return nullptr;
	}
}

/* Logs one violation: the line is made whole, in memory of the size it needs
 * (never cut: a cut JSON object is not JSON). */
static void
log_event(const ViolationEvent &e, int64 recent)
{
	char *line = render_log_line(e, recent, guc::log_format == guc::kLogJson, GetDatabaseEncoding() == PG_UTF8);
	if (line == nullptr)
		return;
	ereport(LOG_SERVER_ONLY, (errmsg_internal("%s", line), errhidestmt(true), errhidecontext(true)));
	pfree(line);
}

void
complete_violation(ViolationEvent *e)
{
	if (!e->info.resolved)
		constraint_cache_lookup(e->schema_name, e->table_name, e->constraint_name, &e->info);
	if (!*e->info.child_table)
		copy_clipped(e->info.child_table, sizeof(e->info.child_table),
		             quote_qualified_identifier(e->schema_name, e->table_name));
}

void
write_violation(ViolationEvent *e)
{
	complete_violation(e);
	int64 recent = violation_store_record(e);
	if (guc::log_violations)
		log_event(*e, recent);
}

} // namespace fkg
