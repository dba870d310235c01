/*
 * audit_run.cpp
 *    The steps of fk_audit_run(): start, one table, finish.
 *
 * fk_audit_run() is a PL/pgSQL procedure because it commits after each table
 * (an audit of a big database must not hold one snapshot for hours), and a
 * procedure that commits can have no SET clause.  So it only calls these
 * functions, which pin search_path themselves, and commits between them.
 *
 * Who may audit: whoever may execute fk_audit_run(); each step checks that,
 * so delegating audits is one GRANT EXECUTE on the procedure.  The auditor's
 * privileges decide which foreign keys are checked (orphans.h); the history
 * tables are written as their owner, by these functions only, from results
 * they computed themselves, so an auditor cannot forge what others read.
 *
 * One audit at a time per database: a session-level lock on an advisory lock
 * tag that the SQL advisory-lock functions cannot produce (field4 = 3; they
 * use 1 and 2), so only an auditor going through fk_audit_start() can hold it.
 * A second audit records a 'skipped' run and warns.  A cancelled audit's
 * session keeps the lock until it ends or audits again.
 *
 * An incremental audit checks only the tables with a foreign key that may
 * have gained orphans since its last clean check (fk_guard_bypass_reasons(),
 * README "Incremental audits"), and carries the other foreign keys' last
 * results forward into its own run, marked with the run they come from, so
 * that the run's totals, its WARNING and fk_audit stay complete.
 */
#include "capture/bypass_store.h"
#include "common/compat.h"
#include "orphans/fk_catalog.h"
#include "common/guc.h"
#include "orphans/orphans.h"
#include "common/owner_identity.h"
#include "common/pg_boundary.h"

extern "C" {
#include "access/genam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "catalog/indexing.h"
#include "catalog/pg_extension.h"
#include "catalog/pg_proc.h"
#include "access/xact.h"
#include "access/xlog.h"
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "storage/lock.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"
}

namespace {

constexpr uint32 kAuditLockKey1 = 0x666b5f61; /* "fk_a" */
constexpr uint32 kAuditLockKey2 = 0x75646974; /* "udit" */
constexpr uint16 kAuditLockKind = 3;          /* pg_advisory_lock uses 1 and 2 */

/*
 * The run this session started, and the tables it must check before it may
 * be recorded as completed (kept in TopMemoryContext across the procedure's
 * commits): the steps are callable one by one, so finishing a run that
 * skipped tables would otherwise record a clean audit that never looked.
 */
struct SessionRun {
	int64 run;
	int ntables;
	Oid *tables;
	bool *checked;
	Oid target;       /* InvalidOid: every table */
	bool incremental; /* carry the unchecked foreign keys' results forward at the end */
};
SessionRun session_run = {0, 0, nullptr, nullptr, InvalidOid, false};

/* Where the extension lives: its schema, quoted, and the owner of its history. */
struct Installation {
	Oid schema;
	const char *quoted_schema;
	Oid history_owner;
	bool bypass_columns; /* fk_audit_results has fk_guard 1.7's columns (not yet updated: it has not) */
};

/* pg_extension.extnamespace of fk_guard (PostgreSQL 15 does not export get_extension_schema). */
Oid
extension_schema()
{
	Relation catalog = table_open(ExtensionRelationId, AccessShareLock);
	ScanKeyData key;
	ScanKeyInit(&key, Anum_pg_extension_extname, BTEqualStrategyNumber, F_NAMEEQ, CStringGetDatum("fk_guard"));
	SysScanDesc scan = systable_beginscan(catalog, ExtensionNameIndexId, true, nullptr, 1, &key);
	HeapTuple tuple = systable_getnext(scan);
	Oid schema = HeapTupleIsValid(tuple) ? ((Form_pg_extension) GETSTRUCT(tuple))->extnamespace : InvalidOid;
	systable_endscan(scan);
	table_close(catalog, AccessShareLock);
	if (!OidIsValid(schema))
		ereport(ERROR, (errcode(ERRCODE_UNDEFINED_OBJECT), errmsg("extension \"fk_guard\" is not installed")));
	return schema;
}

Installation
installation()
{
	Installation inst;
	inst.schema = extension_schema();
	inst.quoted_schema = quote_identifier(get_namespace_name(inst.schema));
	Oid runs = get_relname_relid("fk_audit_runs", inst.schema);
	HeapTuple tuple = SearchSysCache1(RELOID, ObjectIdGetDatum(runs));
	if (!HeapTupleIsValid(tuple))
		elog(ERROR, "fk_guard: table fk_audit_runs is missing");
	inst.history_owner = ((Form_pg_class) GETSTRUCT(tuple))->relowner;
	ReleaseSysCache(tuple);
	Oid results = get_relname_relid("fk_audit_results", inst.schema);
	inst.bypass_columns = OidIsValid(results) && get_attnum(results, "scan_started_at") != InvalidAttrNumber;
	return inst;
}

/* The syscache entry of the extension's routine name(regclass[, boolean]), or
 * nullptr; the caller releases it. */
HeapTuple
find_routine(const Installation &inst, const char *name, bool with_boolean)
{
	Oid argtypes[2] = {REGCLASSOID, BOOLOID};
	HeapTuple tuple = SearchSysCache3(PROCNAMEARGSNSP, CStringGetDatum(name),
	                                  PointerGetDatum(buildoidvector(argtypes, with_boolean ? 2 : 1)),
	                                  ObjectIdGetDatum(inst.schema));
	return HeapTupleIsValid(tuple) ? tuple : nullptr;
}

/* The syscache entry of the extension's routine name(regclass); the caller releases it. */
HeapTuple
extension_routine(const Installation &inst, const char *name)
{
	HeapTuple tuple = find_routine(inst, name, false);
	if (tuple == nullptr)
		elog(ERROR, "fk_guard: routine %s(regclass) is missing", name);
	return tuple;
}

/* Every step is for roles that may execute fk_audit_run() and nobody else:
 * fk_audit_run(regclass, boolean), or fk_audit_run(regclass) until the
 * extension is updated to 1.7. */
void
require_auditor(const Installation &inst)
{
	HeapTuple tuple = find_routine(inst, "fk_audit_run", true);
	if (tuple == nullptr)
		tuple = extension_routine(inst, "fk_audit_run");
	Oid procedure = ((Form_pg_proc) GETSTRUCT(tuple))->oid;
	ReleaseSysCache(tuple);
	if (!fkg::compat::may_execute(procedure, GetUserId()))
		ereport(ERROR, (errcode(ERRCODE_INSUFFICIENT_PRIVILEGE), errmsg("permission denied for procedure fk_audit_run"),
		                errhint("A role may audit once granted EXECUTE on fk_audit_run(regclass, boolean).")));
}

LOCKTAG
audit_lock()
{
	LOCKTAG tag;
	SET_LOCKTAG_ADVISORY(tag, MyDatabaseId, kAuditLockKey1, kAuditLockKey2, kAuditLockKind);
	return tag;
}

/* Runs one statement on the history tables as their owner (its rows in SPI_tuptable). */
void
history_execute(const Installation &inst, const char *sql, int nargs, Oid *types, Datum *values, const char *nulls)
{
	fkg::SavedIdentity saved = fkg::become_owner(inst.history_owner);
	int rc = SPI_execute_with_args(sql, nargs, types, values, nulls, false, 0);
	if (rc < 0)
		elog(ERROR, "fk_guard: history statement failed: %s", SPI_result_code_string(rc));
	fkg::restore_identity(saved);
}

/* The first column of the first row of the last history statement, or 0 when NULL or absent. */
int64
first_int8()
{
	bool isnull = true;
	Datum value = SPI_processed > 0 ? SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull) : 0;
	return isnull ? 0 : DatumGetInt64(value);
}

/* Writes of prepared transactions keep their foreign keys dirty until no
 * prepared transaction is left (bypass_store.h); resolved before a check
 * starts, so that the check's start comes after the time they get. */
void
resolve_prepared()
{
	if (!fkg::bypass_store_attached())
		return;
	uint64 generation = fkg::bypass_store_prepare_generation();
	if (generation == 0)
		return;
	int rc = SPI_execute("SELECT pg_catalog.count(*)::pg_catalog.int8 FROM pg_catalog.pg_prepared_xacts", true, 0);
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "fk_guard: could not read pg_prepared_xacts: %s", SPI_result_code_string(rc));
	if (first_int8() == 0)
		fkg::bypass_store_prepared_resolved(generation);
}

/* A run's steps are taken by the session that started it, while it is running. */
void
require_running_here(const Installation &inst, int64 run)
{
	Oid types[1] = {INT8OID};
	Datum values[1] = {Int64GetDatum(run)};
	char *sql =
		psprintf("SELECT backend_pid::pg_catalog.int8 FROM %s.fk_audit_runs WHERE run_id = $1 AND status = 'running'",
	             inst.quoted_schema);
	history_execute(inst, sql, 1, types, values, nullptr);
	if (SPI_processed == 0 || first_int8() != MyProcPid)
		ereport(ERROR, (errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
		                errmsg("audit run %lld is not running in this session", (long long) run),
		                errhint("Use CALL fk_audit_run().")));
}

/* The role auditing (history statements run as the history's owner, so CURRENT_USER would not do). */
Datum
auditor_name()
{
	return CStringGetTextDatum(GetUserNameFromId(GetUserId(), false));
}

/* Records a run of this session's auditor: running, or already finished as skipped. */
int64
insert_run(const Installation &inst, Datum target, bool target_null, bool skipped, bool incremental)
{
	Oid types[2] = {TEXTOID, TEXTOID};
	Datum values[2] = {target, auditor_name()};
	char nulls[2] = {target_null ? 'n' : ' ', ' '};
	history_execute(inst,
	                psprintf("INSERT INTO %s.fk_audit_runs (target, runner, backend_pid, status, finished_at%s) "
	                         "VALUES ($1, $2, pg_catalog.pg_backend_pid(), %s%s) RETURNING run_id",
	                         inst.quoted_schema, incremental ? ", incremental" : "",
	                         skipped ? "'skipped', pg_catalog.clock_timestamp()" : "'running', NULL",
	                         incremental ? ", true" : ""),
	                2, types, values, nulls);
	return first_int8();
}

/* Another audit holds the lock: record a skipped run and say so. */
void
record_skipped(const Installation &inst, Datum target, bool target_null, bool incremental)
{
	history_execute(inst,
	                psprintf("SELECT backend_pid::pg_catalog.int8 FROM %s.fk_audit_runs WHERE status = 'running' "
	                         "ORDER BY run_id DESC LIMIT 1",
	                         inst.quoted_schema),
	                0, nullptr, nullptr, nullptr);
	int64 holder = first_int8();
	insert_run(inst, target, target_null, true, incremental);
	ereport(WARNING,
	        (errmsg("fk_guard: audit skipped: another fk_audit_run is already running (pid %lld)", (long long) holder),
	         errhint("The skipped run is recorded in fk_audit_runs with status 'skipped'.")));
}

/* Starts a run: marks runs left "running" (we hold the lock now) as interrupted,
 * expires old history and records the new run. */
int64
record_started(const Installation &inst, Datum target, bool target_null, bool incremental)
{
	Oid types[1] = {TEXTOID};
	Datum values[1] = {CStringGetTextDatum(fkg::guc::audit_retention)};
	history_execute(inst,
	                psprintf("UPDATE %s.fk_audit_runs SET status = 'interrupted' WHERE status = 'running'",
	                         inst.quoted_schema),
	                0, nullptr, nullptr, nullptr);
	history_execute(inst,
	                psprintf("DELETE FROM %s.fk_audit_results WHERE run_id IN (SELECT run_id FROM %s.fk_audit_runs "
	                         "WHERE started_at < pg_catalog.now() - $1::pg_catalog.interval)",
	                         inst.quoted_schema, inst.quoted_schema),
	                1, types, values, nullptr);
	history_execute(
		inst,
		psprintf("DELETE FROM %s.fk_audit_runs WHERE started_at < pg_catalog.now() - $1::pg_catalog.interval",
	             inst.quoted_schema),
		1, types, values, nullptr);
	return insert_run(inst, target, target_null, false, incremental);
}

/*
 * The tables whose foreign keys may hold orphans that their last check did
 * not see: never checked since fk_guard 1.7 (a check records when it started),
 * orphans or rows PostgreSQL could not judge found then, or a reason from
 * fk_guard_bypass_reasons() since that check started; and every distributed
 * or reference Citus table, whose shards other nodes write: their bypassed
 * writes are counted there, never here.  Only among the tables
 * a full run of target would check (fk_audit_tables(): no extension member
 * unless fk_guard.include_extension_tables, no Citus shard on its own).  Read
 * as the history's owner (the history is not readable by auditors).
 */
void
list_dirty_tables(const Installation &inst, Oid target)
{
	Oid types[1] = {REGCLASSOID};
	Datum values[1] = {ObjectIdGetDatum(target)};
	char nulls[1] = {OidIsValid(target) ? ' ' : 'n'};
	history_execute(inst,
	                psprintf("SELECT DISTINCT d.conrelid::pg_catalog.regclass FROM pg_catalog.pg_constraint d "
	                         "LEFT JOIN LATERAL (SELECT r.scan_started_at, r.orphan_rows FROM %s.fk_audit_results r "
	                         "WHERE r.constraint_oid OPERATOR(pg_catalog.=) d.oid AND r.carried_from IS NULL "
	                         "ORDER BY r.checked_at DESC LIMIT 1) a ON true "
	                         "JOIN pg_catalog.unnest(%s.fk_audit_tables($1)) s(t) "
	                         "ON d.conrelid OPERATOR(pg_catalog.=) s.t::pg_catalog.oid "
	                         "WHERE d.contype OPERATOR(pg_catalog.=) 'f' AND d.conparentid OPERATOR(pg_catalog.=) 0 "
	                         "AND (a.scan_started_at IS NULL OR a.orphan_rows IS DISTINCT FROM 0 "
	                         "OR %s.fk_guard_citus_table(d.conrelid) OPERATOR(pg_catalog.=) ANY "
	                         "('{distributed,reference}'::pg_catalog.text[]) "
	                         "OR %s.fk_guard_bypass_reasons(d.oid, a.scan_started_at) IS NOT NULL) ORDER BY 1",
	                         inst.quoted_schema, inst.quoted_schema, inst.quoted_schema, inst.quoted_schema),
	                1, types, values, nulls);
}

/* Remembers the tables run must check, the list the procedure walks:
 * fk_audit_tables(target), or its dirty ones for an incremental run. */
void
remember_tables(const Installation &inst, int64 run, Oid target, bool incremental)
{
	if (incremental)
		list_dirty_tables(inst, target);
	else {
		Oid types[1] = {REGCLASSOID};
		Datum values[1] = {ObjectIdGetDatum(target)};
		char nulls[1] = {OidIsValid(target) ? ' ' : 'n'};
		int rc = SPI_execute_with_args(psprintf("SELECT pg_catalog.unnest(%s.fk_audit_tables($1))", inst.quoted_schema),
		                               1, types, values, nulls, true, 0);
		if (rc != SPI_OK_SELECT)
			elog(ERROR, "fk_guard: could not list the tables to audit: %s", SPI_result_code_string(rc));
	}
	if (session_run.tables != nullptr) {
		pfree(session_run.tables);
		pfree(session_run.checked);
	}
	int n = (int) SPI_processed;
	session_run.tables = static_cast<Oid *>(MemoryContextAllocZero(TopMemoryContext, sizeof(Oid) * (n + 1)));
	session_run.checked = static_cast<bool *>(MemoryContextAllocZero(TopMemoryContext, sizeof(bool) * (n + 1)));
	for (int i = 0; i < n; i++) {
		bool isnull;
		session_run.tables[i] = DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1,
		                                                       &isnull));
	}
	session_run.ntables = n;
	session_run.run = run;
	session_run.target = target;
	session_run.incremental = incremental;
}

void
mark_checked(int64 run, Oid child)
{
	if (session_run.run != run)
		return;
	for (int i = 0; i < session_run.ntables; i++)
		if (session_run.tables[i] == child)
			session_run.checked[i] = true;
}

/* A run is completed only once every table it had to check was checked (or dropped). */
void
require_all_checked(int64 run)
{
	if (session_run.run != run)
		ereport(ERROR, (errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
		                errmsg("audit run %lld was not started by this session", (long long) run)));
	for (int i = 0; i < session_run.ntables; i++)
		if (!session_run.checked[i] && get_rel_relkind(session_run.tables[i]) != '\0')
			ereport(ERROR, (errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
			                errmsg("audit run %lld has not checked table %s", (long long) run,
			                       get_rel_name(session_run.tables[i])),
			                errhint("Use CALL fk_audit_run().")));
}

/* fk_orphan_summary's row type, as its SQL declaration in inst's schema gives
 * it, then the declared constraint's OID (Report::kAuditSummary). */
TupleDesc
summary_descriptor(const Installation &inst)
{
	HeapTuple tuple = extension_routine(inst, "fk_orphan_summary");
	TupleDesc summary = build_function_result_tupdesc_t(tuple);
	ReleaseSysCache(tuple);
	TupleDesc desc = CreateTemplateTupleDesc(summary->natts + 1);
	for (int i = 1; i <= summary->natts; i++)
		TupleDescCopyEntry(desc, (AttrNumber) i, summary, (AttrNumber) i);
	TupleDescInitEntry(desc, (AttrNumber) (summary->natts + 1), "constraint_oid", OIDOID, -1, 0);
	return BlessTupleDesc(desc);
}

/* Writes one summary row into the run's results, as the history's owner,
 * under the declared constraint the check names by OID.  A foreign key with
 * a partition left detach-pending has one summary row per relation scanned;
 * its result is their sum. */
/* Rows of declared written unchecked so far, as the bypass counters say (NULL: not tracked). */
Datum
unchecked_rows(Oid declared, char *null)
{
	fkg::BypassCounterCopy c;
	*null = ' ';
	if (!fkg::bypass_store_attached()) {
		*null = 'n';
		return (Datum) 0;
	}
	return Int64GetDatum(fkg::bypass_store_find(declared, &c) ? c.totals.rows : 0);
}

/* Writes one summary row into the run's results, as the history's owner,
 * under the declared constraint the check names by OID.  A foreign key with
 * a partition left detach-pending has one summary row per relation scanned;
 * its result is their sum.  scan_started_at: before the check took any
 * snapshot, so a bypassed write committed after it may not have been seen. */
void
record_result(const Installation &inst, int64 run, TupleTableSlot *slot, TimestampTz scan_started_at)
{
	slot_getallattrs(slot);
	Oid types[7] = {INT8OID, OIDOID, BOOLOID, INT8OID, INT8OID, TIMESTAMPTZOID, INT8OID};
	Datum values[7] = {Int64GetDatum(run),
	                   slot->tts_values[6],
	                   slot->tts_values[3],
	                   slot->tts_values[4],
	                   slot->tts_values[5],
	                   TimestampTzGetDatum(scan_started_at),
	                   (Datum) 0};
	char nulls[7] = {' ', ' ', ' ', slot->tts_isnull[4] ? 'n' : ' ', slot->tts_isnull[5] ? 'n' : ' ', ' ', ' '};
	values[6] = unchecked_rows(DatumGetObjectId(slot->tts_values[6]), &nulls[6]);
	history_execute(
		inst,
		psprintf("INSERT INTO %s.fk_audit_results AS r (run_id, constraint_oid, constraint_name, child_table, "
	             "parent_table, checked_at, validated, orphan_rows, missing_keys%s) "
	             "SELECT $1, c.oid, c.conname, pg_catalog.format('%%I.%%I', cn.nspname, cr.relname), "
	             "pg_catalog.format('%%I.%%I', pn.nspname, pr.relname), pg_catalog.clock_timestamp(), "
	             "$3, $4, $5%s FROM pg_catalog.pg_constraint c "
	             "JOIN pg_catalog.pg_class cr ON cr.oid = c.conrelid "
	             "JOIN pg_catalog.pg_namespace cn ON cn.oid = cr.relnamespace "
	             "JOIN pg_catalog.pg_class pr ON pr.oid = c.confrelid "
	             "JOIN pg_catalog.pg_namespace pn ON pn.oid = pr.relnamespace "
	             "WHERE c.oid = $2 "
	             "ON CONFLICT (run_id, constraint_oid) DO UPDATE SET "
	             "orphan_rows = r.orphan_rows OPERATOR(pg_catalog.+) EXCLUDED.orphan_rows, "
	             "missing_keys = r.missing_keys OPERATOR(pg_catalog.+) EXCLUDED.missing_keys",
	             inst.quoted_schema, inst.bypass_columns ? ", scan_started_at, unchecked_rows_at_scan" : "",
	             inst.bypass_columns ? ", $6, $7" : ""),
		inst.bypass_columns ? 7 : 5, types, values, nulls);
}

/* An incremental run: every foreign key in its scope (fk_audit_tables(), as
 * for a full run) that it did not check gets its last result again, marked as
 * carried from the run that checked it. */
void
carry_forward(const Installation &inst, int64 run)
{
	Oid types[2] = {INT8OID, REGCLASSOID};
	Datum values[2] = {Int64GetDatum(run), ObjectIdGetDatum(session_run.target)};
	char nulls[2] = {' ', OidIsValid(session_run.target) ? ' ' : 'n'};
	history_execute(
		inst,
		psprintf("INSERT INTO %s.fk_audit_results (run_id, constraint_oid, constraint_name, child_table, "
	             "parent_table, checked_at, validated, orphan_rows, missing_keys, scan_started_at, carried_from, "
	             "unchecked_rows_at_scan) "
	             "SELECT $1, l.constraint_oid, l.constraint_name, l.child_table, l.parent_table, l.checked_at, "
	             "l.validated, l.orphan_rows, l.missing_keys, l.scan_started_at, "
	             "COALESCE(l.carried_from, l.run_id), l.unchecked_rows_at_scan "
	             "FROM pg_catalog.pg_constraint d CROSS JOIN LATERAL (SELECT * FROM %s.fk_audit_results r "
	             "WHERE r.constraint_oid OPERATOR(pg_catalog.=) d.oid AND r.run_id OPERATOR(pg_catalog.<>) $1 "
	             "ORDER BY r.checked_at DESC, r.run_id DESC LIMIT 1) l "
	             "JOIN pg_catalog.unnest(%s.fk_audit_tables($2)) s(t) "
	             "ON d.conrelid OPERATOR(pg_catalog.=) s.t::pg_catalog.oid "
	             "WHERE d.contype OPERATOR(pg_catalog.=) 'f' AND d.conparentid OPERATOR(pg_catalog.=) 0 "
	             "AND NOT EXISTS (SELECT FROM %s.fk_audit_results x WHERE x.run_id OPERATOR(pg_catalog.=) $1 "
	             "AND x.constraint_oid OPERATOR(pg_catalog.=) d.oid)",
	             inst.quoted_schema, inst.quoted_schema, inst.quoted_schema, inst.quoted_schema),
		2, types, values, nulls);
}

/* Brings the run's totals up to date with its results. */
void
update_totals(const Installation &inst, int64 run)
{
	Oid types[1] = {INT8OID};
	Datum values[1] = {Int64GetDatum(run)};
	history_execute(
		inst,
		psprintf("UPDATE %s.fk_audit_runs r SET foreign_keys = t.keys, foreign_keys_with_orphans = t.dirty, "
	             "orphan_rows = t.orphans FROM (SELECT pg_catalog.count(*) AS keys, "
	             "pg_catalog.count(*) FILTER (WHERE x.orphan_rows > 0) AS dirty, "
	             "COALESCE(pg_catalog.sum(x.orphan_rows), 0) AS orphans "
	             "FROM %s.fk_audit_results x WHERE x.run_id = $1) t WHERE r.run_id = $1",
	             inst.quoted_schema, inst.quoted_schema),
		1, types, values, nullptr);
}

} // namespace

/* fk_audit_start(target regclass, incremental boolean) returns bigint: the new
 * run, or NULL when skipped.  (fk_guard 1.6's SQL calls it with target only.) */
FKG_FUNCTION(fk_audit_start)
{
	if (RecoveryInProgress())
		ereport(ERROR, (errcode(ERRCODE_READ_ONLY_SQL_TRANSACTION), errmsg("fk_audit_run cannot run on a hot standby"),
		                errhint("Run it on the primary. fk_audit, fk_orphans() and fk_orphan_summary() work on a "
		                        "standby.")));
	if (IsTransactionBlock())
		ereport(ERROR,
		        (errcode(ERRCODE_ACTIVE_SQL_TRANSACTION), errmsg("fk_audit_run cannot run inside a transaction block"),
		         errhint("It commits after each table. CALL it on its own, outside BEGIN ... COMMIT.")));
	Installation inst = installation();
	require_auditor(inst);
	bool incremental = PG_NARGS() > 1 && !PG_ARGISNULL(1) && PG_GETARG_BOOL(1);
	if (incremental && !inst.bypass_columns)
		ereport(ERROR, (errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
		                errmsg("incremental audits need fk_guard 1.7"), errhint("ALTER EXTENSION fk_guard UPDATE")));
	bool target_null = PG_ARGISNULL(0);
	if (!target_null)
		fkg::check_target_is_table(PG_GETARG_OID(0));
	Datum target = target_null
	                   ? (Datum) 0
	                   : CStringGetTextDatum(DatumGetCString(DirectFunctionCall1(regclassout, PG_GETARG_DATUM(0))));

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "fk_guard: SPI_connect failed");
	LOCKTAG tag = audit_lock();
	LockAcquireResult lock = LockAcquire(&tag, ExclusiveLock, true, true);
	if (lock == LOCKACQUIRE_NOT_AVAIL) {
		record_skipped(inst, target, target_null, incremental);
		SPI_finish();
		PG_RETURN_NULL();
	}
	if (lock == LOCKACQUIRE_ALREADY_HELD || lock == LOCKACQUIRE_ALREADY_CLEAR)
		LockRelease(&tag, ExclusiveLock, true); /* left by a cancelled audit of this session: keep one hold */
	resolve_prepared();
	int64 run = record_started(inst, target, target_null, incremental);
	remember_tables(inst, run, target_null ? InvalidOid : PG_GETARG_OID(0), incremental);
	SPI_finish();
	PG_RETURN_INT64(run);
}

/* fk_audit_check_table(run bigint, child regclass): checks child's foreign keys into the run. */
FKG_FUNCTION(fk_audit_check_table)
{
	Installation inst = installation();
	require_auditor(inst);
	int64 run = PG_GETARG_INT64(0);
	Oid child = PG_GETARG_OID(1);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "fk_guard: SPI_connect failed");
	require_running_here(inst, run);
	if (get_rel_relkind(child) == '\0') {
		ereport(NOTICE, (errmsg("fk_guard: audit skipped table with OID %u: it was dropped", child)));
		SPI_finish();
		PG_RETURN_VOID();
	}

	resolve_prepared();
	/* The check reads the statement's snapshot (the one-pass engine's
	 * GetActiveSnapshot(), the planner engine's read-only SPI), taken before
	 * this function was called, or the transaction's (REPEATABLE READ): a
	 * bypass committed in between would count as seen.  Every snapshot of
	 * this transaction was taken after it started (in a procedure, after its
	 * COMMIT), so that is when the check started. */
	TimestampTz scan_started_at = GetCurrentTransactionStartTimestamp();
	TupleDesc desc = summary_descriptor(inst);
	Tuplestorestate *summaries = tuplestore_begin_heap(false, false, work_mem);
	fkg::check_foreign_keys(child, fkg::Report::kAuditSummary, -1, false, summaries, desc);
	TupleTableSlot *slot = MakeSingleTupleTableSlot(desc, &TTSOpsMinimalTuple);
	while (tuplestore_gettupleslot(summaries, true, false, slot))
		record_result(inst, run, slot, scan_started_at);
	ExecDropSingleTupleTableSlot(slot);
	tuplestore_end(summaries);
	update_totals(inst, run);
	mark_checked(run, child);
	SPI_finish();
	PG_RETURN_VOID();
}

/* fk_audit_finish(run bigint): completes the run, releases the lock, warns about orphans. */
FKG_FUNCTION(fk_audit_finish)
{
	Installation inst = installation();
	require_auditor(inst);
	int64 run = PG_GETARG_INT64(0);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "fk_guard: SPI_connect failed");
	require_running_here(inst, run);
	require_all_checked(run);
	if (session_run.incremental)
		carry_forward(inst, run);
	update_totals(inst, run);
	Oid types[1] = {INT8OID};
	Datum values[1] = {Int64GetDatum(run)};
	history_execute(
		inst,
		psprintf("UPDATE %s.fk_audit_runs SET status = 'completed', finished_at = pg_catalog.clock_timestamp() "
	             "WHERE run_id = $1 RETURNING orphan_rows, foreign_keys_with_orphans::pg_catalog.int8",
	             inst.quoted_schema),
		1, types, values, nullptr);
	if (SPI_processed != 1)
		elog(ERROR, "fk_guard: audit run %lld vanished", (long long) run);
	bool isnull;
	int64 orphans = first_int8();
	int64 keys = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull));
	SPI_finish();

	LOCKTAG tag = audit_lock();
	LockRelease(&tag, ExclusiveLock, true);
	if (orphans > 0)
		/* For log-based alerting. */
		ereport(WARNING,
		        (errmsg("fk_guard: %lld orphaned rows in %lld foreign keys", (long long) orphans, (long long) keys),
		         errhint("SELECT * FROM %s.fk_audit_results WHERE run_id = %lld AND orphan_rows > 0",
		                 inst.quoted_schema, (long long) run)));
	PG_RETURN_VOID();
}

/* fk_audit_run_tables(run bigint) returns regclass[]: the tables this
 * session's run must check, in order (all of its target's, or the dirty ones). */
FKG_FUNCTION(fk_audit_run_tables)
{
	Installation inst = installation();
	require_auditor(inst);
	int64 run = PG_GETARG_INT64(0);
	if (session_run.run != run)
		ereport(ERROR, (errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
		                errmsg("audit run %lld was not started by this session", (long long) run)));
	Datum *tables = static_cast<Datum *>(palloc(sizeof(Datum) * (session_run.ntables + 1)));
	for (int i = 0; i < session_run.ntables; i++)
		tables[i] = ObjectIdGetDatum(session_run.tables[i]);
	PG_RETURN_ARRAYTYPE_P(construct_array(tables, session_run.ntables, REGCLASSOID, sizeof(Oid), true, TYPALIGN_INT));
}

/* Kept for fk_guard 1.2's SQL, which calls it until ALTER EXTENSION ... UPDATE. */
FKG_FUNCTION(fk_guard_in_transaction_block)
{
	PG_RETURN_BOOL(IsTransactionBlock());
}
