/*
 * orphans.cpp
 *    fk_orphans() and fk_orphan_summary(): the rows PostgreSQL's RI check would reject.
 *
 * For each declared foreign key the query built by orphan_query.cpp runs
 * through SPI straight into the function's tuplestore, so memory stays within
 * work_mem (the tuplestore spills to disk) and the planner may use a parallel
 * hash anti join, as it would for the hand-written LEFT JOIN.  All keys are
 * judged under one snapshot (read-only SPI), with the caller's privileges,
 * taking AccessShareLock only.
 */
#include "compat.h"
#include "fk_catalog.h"
#include "orphan_query.h"
#include "pg_boundary.h"

extern "C" {
#include "executor/spi.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/builtins.h"
}

namespace {

using fkg::DeclaredForeignKey;

/* Which query to run for each foreign key. */
enum class Report { Rows, Summary };

char *
build_query(Report report, const fkg::ForeignKeySpec &spec, int64 limit)
{
	/* The std::string temporaries die before to_palloc returns; nothing here longjmps. */
	return fkg::to_palloc(report == Report::Rows ? fkg::orphan_rows_query(spec, limit)
	                                             : fkg::orphan_summary_query(spec));
}

void
run_into(const char *sql, DestReceiver *dest)
{
	SPIPlanPtr plan = SPI_prepare_cursor(sql, 0, nullptr, CURSOR_OPT_PARALLEL_OK);
	if (plan == nullptr)
		elog(ERROR, "fk_guard: could not prepare orphan query: %s", SPI_result_code_string(SPI_result));

	SPIExecuteOptions options = {};
	options.read_only = true;
	options.dest = dest;
	int rc = SPI_execute_plan_extended(plan, &options);
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "fk_guard: orphan query failed: %s", SPI_result_code_string(rc));
	SPI_freeplan(plan);
}

const char *
qualified_relation(const fkg::QualifiedName &name)
{
	return quote_qualified_identifier(name.schema, name.name);
}

/* With an explicit target, a foreign key we may not check is an error:
 * PostgreSQL's own permission error, or ours when row-level security would
 * make visible rows look orphaned. */
void
require_checkable(const DeclaredForeignKey &fk)
{
	if (!fk.child_privileged)
		aclcheck_error(ACLCHECK_NO_PRIV, OBJECT_TABLE, fk.spec.scan_relation.name);
	if (!fk.parent_privileged)
		aclcheck_error(ACLCHECK_NO_PRIV, OBJECT_TABLE, fk.spec.parent_relation.name);
	if (fk.child_row_security || fk.parent_row_security) {
		const fkg::QualifiedName &table = fk.child_row_security ? fk.spec.scan_relation : fk.spec.parent_relation;
		ereport(ERROR, (errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
		                errmsg("cannot check foreign key \"%s\" on table %s", fk.spec.constraint_name,
		                       qualified_relation(fk.spec.scan_relation)),
		                errdetail("Row-level security is active on table %s for the current role, so rows hidden "
		                          "by a policy would be misjudged.",
		                          qualified_relation(table)),
		                errhint("Run fk_guard as the table owner or as a role with BYPASSRLS.")));
	}
}

/* In the all-tables scan, keys the caller may not check are skipped and named in one NOTICE. */
void
notice_skipped(const DeclaredForeignKey *keys, int count)
{
	StringInfoData names;
	initStringInfo(&names);
	int skipped = 0;
	for (int i = 0; i < count; i++) {
		if (keys[i].checkable())
			continue;
		appendStringInfo(&names, "%s\"%s\" on %s", skipped > 0 ? ", " : "", keys[i].spec.constraint_name,
		                 qualified_relation(keys[i].spec.scan_relation));
		skipped++;
	}
	if (skipped > 0)
		ereport(NOTICE, (errmsg("fk_guard skipped %d foreign key(s) that the current role cannot check", skipped),
		                 errdetail("Skipped: %s.", names.data),
		                 errhint("Checking a foreign key needs SELECT on the referencing table and on the "
		                         "referenced columns, with no row-level security applying to either table.")));
	pfree(names.data);
}

Datum
report_orphans(FunctionCallInfo fcinfo, Report report, int64 limit)
{
	Oid target = PG_ARGISNULL(0) ? InvalidOid : PG_GETARG_OID(0);
	if (!PG_ARGISNULL(0))
		fkg::check_target_is_table(target);

	ReturnSetInfo *rsinfo = fkg::compat::init_materialized_srf(fcinfo);
	DestReceiver *dest = fkg::compat::tuplestore_receiver(rsinfo->setResult, rsinfo->econtext->ecxt_per_query_memory,
	                                                      rsinfo->setDesc);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "fk_guard: SPI_connect failed");

	int count = 0;
	const DeclaredForeignKey *keys = fkg::load_declared_foreign_keys(target, &count);
	if (OidIsValid(target)) {
		for (int i = 0; i < count; i++)
			require_checkable(keys[i]);
	} else
		notice_skipped(keys, count);

	for (int i = 0; i < count; i++) {
		CHECK_FOR_INTERRUPTS();
		if (!OidIsValid(target) && !keys[i].checkable())
			continue;
		char *sql = build_query(report, keys[i].spec, limit);
		run_into(sql, dest);
		pfree(sql);
	}

	SPI_finish();
	dest->rDestroy(dest);
	return (Datum) 0;
}

} // namespace

/* fk_orphans(target regclass, max_per_constraint bigint) */
FKG_FUNCTION(fk_orphans)
{
	int64 limit = -1;
	if (!PG_ARGISNULL(1)) {
		limit = PG_GETARG_INT64(1);
		if (limit < 0)
			ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			                errmsg("max_per_constraint must not be negative"),
			                errhint("Pass NULL to list every orphan.")));
	}
	return report_orphans(fcinfo, Report::Rows, limit);
}

/* fk_orphan_summary(target regclass) */
FKG_FUNCTION(fk_orphan_summary)
{
	return report_orphans(fcinfo, Report::Summary, -1);
}
