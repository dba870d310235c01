/*
 * orphans.cpp
 *    fk_orphans() and fk_orphan_summary(): the rows PostgreSQL's RI check would reject.
 *
 * For each declared foreign key the query built by orphan_query.cpp runs
 * through SPI straight into a tuplestore, so memory stays within work_mem
 * (the tuplestore spills to disk) and the planner may use a parallel hash
 * anti join, as it would for the hand-written LEFT JOIN.  All keys are judged
 * under one snapshot, taking AccessShareLock only.
 *
 * Who sees what, and whose rights run what: the caller must be allowed to
 * see what is shown (SELECT on the referencing table and the referenced key
 * columns, USAGE on both schemas, no row-level security hiding rows from
 * it); the query itself runs as the referencing table's owner in a
 * security-restricted operation (owner_identity.h), so no cast, operator or
 * function it reaches runs with the caller's rights.
 */
#include "orphans/orphans.h"

#include "common/compat.h"
#include "orphans/fk_catalog.h"
#include "orphans/one_pass.h"
#include "orphans/orphan_query.h"
#include "common/owner_identity.h"
#include "common/pg_boundary.h"

extern "C" {
#include "access/xact.h"
#include "executor/spi.h"
#include "executor/tuptable.h"
#include "lib/qunique.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "storage/lmgr.h"
#include "catalog/pg_class.h"
#include "catalog/pg_type.h"
#include "nodes/params.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/acl.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/plancache.h"
#include "utils/resowner.h"
#include "utils/rls.h"
#include "utils/syscache.h"
}

namespace fkg {

namespace {

char *
build_query(Report report, const ForeignKeySpec &spec, int64 limit)
{
	/* The std::string temporaries die before to_palloc returns; nothing here longjmps. */
	return to_palloc(lists_rows(report) ? orphan_rows_query(spec, limit, report == Report::kLocatedRows)
	                                    : orphan_summary_query(spec, report == Report::kAuditSummary));
}

/*
 * The query names its tables, but privileges were checked by OID: refuse a
 * plan that reads anything but the two tables checked (a view or another
 * table put in place of one under its old name, or its schema renamed), or
 * leaf, a partition of the referencing table the query reads directly.
 */
void
require_checked_relations(SPIPlanPtr plan, const ForeignKeySpec &spec, Oid leaf)
{
	ListCell *lc;
	foreach (lc, SPI_plan_get_plan_sources(plan)) {
		ListCell *rc;
		foreach (rc, ((CachedPlanSource *) lfirst(lc))->relationOids) {
			Oid relid = lfirst_oid(rc);
			if (relid != spec.scan_relid && relid != spec.parent_relid && relid != leaf)
				ereport(ERROR, (errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				                errmsg("the tables of foreign key \"%s\" changed while it was being checked",
				                       spec.constraint_name),
				                errdetail("Its query would read relation %u, which is neither %s nor %s.", relid,
				                          relation_name(spec.scan_relation), relation_name(spec.parent_relation))));
		}
	}
}

/* Plans without hash joins or hash aggregation, until the identity is restored
 * (the settings live in become_owner's GUC nest level). */
void
forbid_hashing()
{
	for (const char *setting : {"enable_hashjoin", "enable_hashagg"})
		(void) set_config_option(setting, "off", PGC_USERSET, PGC_S_SESSION, GUC_ACTION_SAVE, true, 0, false);
}

/* The parameters of a query over the one-pass engine's orphans
 * (orphan_rows_by_ctid_query and its variant): tid[] values. */
struct CtidParams {
	int count;
	ArrayType **arrays; /* $1 .. $count */
	Oid direct_leaf;    /* the partition the query names, if any (require_checked_relations) */
};

/* Plans one of a foreign key's queries and refuses it if it would read any
 * relation but the key's two tables, or the partition read directly
 * (require_checked_relations). */
SPIPlanPtr
prepare_checked(const char *sql, const ForeignKeySpec &spec, int cursor_options, const CtidParams *params = nullptr)
{
	int nargs = params == nullptr ? 0 : params->count;
	Oid *argtypes = static_cast<Oid *>(palloc(sizeof(Oid) * (nargs + 1)));
	for (int i = 0; i < nargs; i++)
		argtypes[i] = TIDARRAYOID;
	SPIPlanPtr plan = SPI_prepare_cursor(sql, nargs, argtypes, cursor_options);
	if (plan == nullptr)
		elog(ERROR, "fk_guard: could not prepare the check of \"%s\": %s", spec.constraint_name,
		     SPI_result_code_string(SPI_result));
	require_checked_relations(plan, spec, params != nullptr ? params->direct_leaf : InvalidOid);
	pfree(argtypes);
	return plan;
}

/*
 * Raises what PostgreSQL's own check raises for every row it checks of a
 * foreign key whose keys it cannot compare (ri_cannot_compare), when there is
 * such a row: the foreign key gets no verdict, as it gets none from
 * PostgreSQL.  Runs as the checker.
 */
void
require_comparable(const ForeignKeySpec &spec)
{
	char *sql = to_palloc(checked_rows_exist_query(spec));
	SPIPlanPtr plan = prepare_checked(sql, spec, 0);
	int rc = SPI_execute_plan(plan, nullptr, nullptr, true, 1);
	if (rc != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "fk_guard: row check failed: %s", SPI_result_code_string(rc));
	bool isnull;
	bool any = DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	SPI_freeplan(plan);
	pfree(sql);
	if (any)
		ereport(ERROR,
		        (errcode(ERRCODE_INDETERMINATE_COLLATION),
		         errmsg("could not determine which collation to use for string comparison"),
		         errdetail("PostgreSQL's own check of foreign key \"%s\" raises this error for every row it checks: "
		                   "it compares the referenced column under its collation with a value of the referencing "
		                   "column's type under that type's collation.",
		                   spec.constraint_name)));
}

/* Runs one orphan query as the referencing table's owner, appending its rows
 * to out.  ctid_params, when not null, are the parameters of
 * orphan_rows_by_ctid_query or its variant. */
void
run_as_checker(const char *sql, const DeclaredForeignKey &fk, Tuplestorestate *out, TupleDesc desc,
               const CtidParams *ctid_params = nullptr)
{
	DestReceiver *dest = compat::tuplestore_receiver(out, CurrentMemoryContext, desc);
	SavedIdentity saved = become_owner(fk.checker);
	if (hashing_may_split(fk.spec))
		forbid_hashing();
	if (ri_cannot_compare(fk.spec))
		require_comparable(fk.spec);

	SPIPlanPtr plan = prepare_checked(sql, fk.spec, CURSOR_OPT_PARALLEL_OK, ctid_params);
	SPIExecuteOptions options = {};
	ParamListInfo params = nullptr;
	if (ctid_params != nullptr) {
		params = makeParamList(ctid_params->count);
		for (int i = 0; i < ctid_params->count; i++) {
			params->params[i].value = PointerGetDatum(ctid_params->arrays[i]);
			params->params[i].isnull = false;
			params->params[i].pflags = PARAM_FLAG_CONST;
			params->params[i].ptype = TIDARRAYOID;
		}
	}
	options.params = params;
	options.read_only = true;
	options.dest = dest;
	int rc = SPI_execute_plan_extended(plan, &options);
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "fk_guard: orphan query failed: %s", SPI_result_code_string(rc));
	SPI_freeplan(plan);

	restore_identity(saved);
	dest->rDestroy(dest);
}

/* Errors that end the whole call rather than one foreign key's check:
 * cancels and timeouts, lock and resource failures, internal errors. */
bool
ends_the_call(int sqlerrcode)
{
	int category = ERRCODE_TO_CATEGORY(sqlerrcode);
	return category == ERRCODE_OPERATOR_INTERVENTION || category == ERRCODE_INSUFFICIENT_RESOURCES ||
	       category == ERRCODE_PROGRAM_LIMIT_EXCEEDED || category == ERRCODE_SYSTEM_ERROR ||
	       category == ERRCODE_INTERNAL_ERROR || category == ERRCODE_TRANSACTION_ROLLBACK ||
	       sqlerrcode == ERRCODE_LOCK_NOT_AVAILABLE;
}

/* The summary row of a foreign key that could not be checked: NULL counts. */
void
put_unchecked_summary(const ForeignKeySpec &spec, Tuplestorestate *out, TupleDesc desc)
{
	Datum values[7] = {DirectFunctionCall1(namein, CStringGetDatum(spec.constraint_name)),
	                   ObjectIdGetDatum(spec.scan_relid),
	                   ObjectIdGetDatum(spec.parent_relid),
	                   BoolGetDatum(spec.validated),
	                   (Datum) 0,
	                   (Datum) 0,
	                   ObjectIdGetDatum(spec.constraint_oid)};
	bool nulls[7] = {false, false, false, false, true, true, false};
	tuplestore_putvalues(out, desc, values, nulls);
}

/* Moves every row of from to the end of to. */
void
append_rows(Tuplestorestate *to, Tuplestorestate *from, TupleDesc desc)
{
	TupleTableSlot *slot = MakeSingleTupleTableSlot(desc, &TTSOpsMinimalTuple);
	while (tuplestore_gettupleslot(from, true, false, slot))
		tuplestore_puttupleslot(to, slot);
	ExecDropSingleTupleTableSlot(slot);
}

/*
 * Runs body() in a subtransaction.  Returns nullptr when it completes; when it
 * raises an error that does not end the call (ends_the_call), rolls the
 * subtransaction back and returns the error, for the caller to report; any
 * other error is raised again.  body is a lambda capturing references (rule 5
 * of pg_boundary.h), and like everything under PG_TRY it throws no C++
 * exception (rule 4).
 */
template <typename Body>
ErrorData *
in_subtransaction(Body &&body)
{
	MemoryContext context = CurrentMemoryContext;
	ResourceOwner owner = CurrentResourceOwner;
	ErrorData *volatile error = nullptr;

	BeginInternalSubTransaction(nullptr);
	MemoryContextSwitchTo(context);
	PG_TRY();
	{
		body();
		ReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(context);
		CurrentResourceOwner = owner;
	}
	PG_CATCH();
	{
		MemoryContextSwitchTo(context);
		ErrorData *edata = CopyErrorData();
		FlushErrorState();
		RollbackAndReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(context);
		CurrentResourceOwner = owner;
		if (ends_the_call(edata->sqlerrcode))
			ReThrowError(edata);
		error = edata;
	}
	PG_END_TRY();
	return error;
}

/*
 * Runs one foreign key's queries (write(tuplestore) runs them) in a
 * subtransaction, so that a check PostgreSQL itself cannot complete costs
 * only that key its report.  Rows go to a scratch tuplestore first, so a
 * failed key leaves none behind.  write is a lambda capturing references
 * (pg_boundary.h, rule 5).
 */
template <typename Write>
void
check_isolated(const DeclaredForeignKey &fk, Report report, Tuplestorestate *out, TupleDesc desc, Write &&write)
{
	Tuplestorestate *scratch = tuplestore_begin_heap(false, false, work_mem);
	ErrorData *edata = in_subtransaction([&]() { write(scratch); });
	if (edata != nullptr) {
		ereport(WARNING, (errcode(edata->sqlerrcode),
		                  errmsg("fk_guard could not check foreign key \"%s\" on %s: %s", fk.spec.constraint_name,
		                         relation_name(fk.spec.scan_relation), edata->message),
		                  edata->detail ? errdetail("%s", edata->detail) : 0,
		                  errhint("PostgreSQL's own check raises this error for some row; the other foreign keys "
		                          "were checked. Check this one alone with its table as target to see the error.")));
		FreeErrorData(edata);
		if (!lists_rows(report))
			put_unchecked_summary(fk.spec, out, desc);
	} else
		append_rows(out, scratch, desc);
	tuplestore_end(scratch);
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
		appendStringInfo(&names, "%s\"%s\" on %s (%s)", skipped > 0 ? ", " : "", keys[i].spec.constraint_name,
		                 relation_name(keys[i].spec.scan_relation), refusal_reason(keys[i].refusal));
		skipped++;
	}
	if (skipped > 0)
		ereport(NOTICE, (errmsg("fk_guard skipped %d foreign key(s) that the current role cannot check", skipped),
		                 errdetail("Skipped: %s.", names.data),
		                 errhint("Checking a foreign key needs USAGE on both schemas, SELECT on the referencing "
		                         "table and on the referenced columns, with no row-level security applying to "
		                         "either table; the referencing table's owner, who runs the check, needs SELECT on "
		                         "the referenced columns. Other sessions' temporary tables, and unlogged tables "
		                         "on a standby, cannot be read.")));
	pfree(names.data);
}

/* AccessShareLock on both tables of every key the caller may check, in OID
 * order, so that the catalog facts read next cannot change before the
 * queries run (renames, policies and ALTERs need stronger locks). */
void
lock_checked_relations(const DeclaredForeignKey *keys, int count)
{
	Oid *relids = static_cast<Oid *>(palloc(sizeof(Oid) * (2 * count + 1)));
	int n = 0;
	for (int i = 0; i < count; i++)
		if (keys[i].checkable()) {
			relids[n++] = keys[i].spec.scan_relid;
			relids[n++] = keys[i].spec.parent_relid;
		}
	qsort(relids, n, sizeof(Oid), oid_cmp);
	n = (int) qunique(relids, n, sizeof(Oid), oid_cmp);
	for (int i = 0; i < n; i++)
		LockRelationOid(relids[i], AccessShareLock);
	pfree(relids);
}

/* The declared keys of target, with their facts read under lock. */
const DeclaredForeignKey *
load_locked(Oid target, int *count)
{
	const DeclaredForeignKey *keys = load_declared_foreign_keys(target, count);
	lock_checked_relations(keys, *count);
	return load_declared_foreign_keys(target, count);
}

} // namespace

/*
 * Runs the one pass over keys[which[0..n)] in a subtransaction.  An error
 * that ends the call is raised again; any other leaves every key not done
 * (the planner's path then checks each as before, reporting the error the way
 * it always has).
 */
void
run_pass_isolated(const DeclaredForeignKey *keys, const int *which, int n, Report report, int64 limit,
                  MemoryContext pass_context, OnePassResult *results)
{
	ErrorData *edata = in_subtransaction([&]() { run_one_pass(keys, which, n, report, limit, pass_context, results); });
	if (edata == nullptr)
		return;
	char *reason = psprintf("the one pass raised an error: %s", edata->message);
	for (int i = 0; i < n; i++)
		results[i] = OnePassResult{false, reason, 0, 0, nullptr, 0, nullptr, nullptr, 0};
	FreeErrorData(edata);
}

void
log_choice(const ForeignKeySpec &spec, bool one_pass, const char *reason)
{
	ereport(DEBUG1, (errmsg_internal("fk_guard: foreign key \"%s\" on %s: %s (%s)", spec.constraint_name,
	                                 relation_name(spec.scan_relation), one_pass ? "one_pass" : "planner", reason)));
}

/*
 * Whether the referencing table's owner may read leaf, a partition of the
 * referencing table, by name (ONLY leaf, a TID scan of that table alone) with
 * the same result as through the partitioned table: it may read leaf and use
 * its schema, and no row-level security applies to it there (none enabled,
 * or the owner bypasses it: a superuser, BYPASSRLS, leaf's owner without
 * FORCE), so that no policy of leaf is planned or run.  Fills *name.
 */
bool
reads_leaf_directly(Oid leaf, Oid checker, QualifiedName *name)
{
	if (pg_class_aclcheck(leaf, checker, ACL_SELECT) != ACLCHECK_OK ||
	    check_enable_rls(leaf, checker, true) == RLS_ENABLED)
		return false;
	HeapTuple tuple = SearchSysCache1(RELOID, ObjectIdGetDatum(leaf));
	if (!HeapTupleIsValid(tuple))
		return false;
	Form_pg_class form = (Form_pg_class) GETSTRUCT(tuple);
	bool direct = compat::may_use_namespace(form->relnamespace, checker);
	if (direct)
		*name = QualifiedName{get_namespace_name(form->relnamespace), pstrdup(NameStr(form->relname))};
	ReleaseSysCache(tuple);
	return direct && name->schema != nullptr;
}

/* A tid[] of n ctids as they are (6 bytes each, short alignment: no
 * padding), without a Datum per element: the pass collects no more than one
 * array holds (run_one_pass's cap). */
ArrayType *
tid_array(const ItemPointerData *tids, int64 n)
{
	Size bytes = ARR_OVERHEAD_NONULLS(1) + sizeof(ItemPointerData) * (Size) n;
	ArrayType *ctids = static_cast<ArrayType *>(palloc0(bytes));
	SET_VARSIZE(ctids, bytes);
	ctids->ndim = 1;
	ctids->dataoffset = 0;
	ctids->elemtype = TIDOID;
	ARR_DIMS(ctids)[0] = (int) n;
	ARR_LBOUND(ctids)[0] = 1;
	memcpy(ARR_DATA_PTR(ctids), tids, sizeof(ItemPointerData) * (Size) n);
	return ctids;
}

/*
 * Appends the rows of the one pass's orphans (result's ctids, leaf by leaf),
 * as the planner's path shows them and in its order, to out.  Each leaf is
 * read by name when that gives the same result (reads_leaf_directly: a TID
 * scan of its own ctids); otherwise all of them are read in one query through
 * the partitioned table, as the planner's path reads them, each scanned
 * once (one query per leaf would scan every leaf for each).
 */
void
show_orphans(const DeclaredForeignKey &fk, const OnePassResult &result, Tuplestorestate *out, TupleDesc desc)
{
	const ForeignKeySpec &spec = fk.spec;
	QualifiedName *names = static_cast<QualifiedName *>(palloc0(sizeof(QualifiedName) * (result.nleaves + 1)));
	unsigned *leaves = static_cast<unsigned *>(palloc(sizeof(unsigned) * (result.nleaves + 1)));
	ArrayType **arrays = static_cast<ArrayType **>(palloc(sizeof(ArrayType *) * (result.nleaves + 2)));
	int nleaves = 0;
	bool direct = true;
	for (int l = 0; l < result.nleaves; l++) {
		int64 from = l > 0 ? result.leaf_ends[l - 1] : 0;
		if (result.leaf_ends[l] == from)
			continue;
		Oid leaf = result.leaves[l];
		if (leaf == spec.scan_relid)
			names[nleaves] = spec.scan_relation;
		else if (!reads_leaf_directly(leaf, fk.checker, &names[nleaves]))
			direct = false;
		leaves[nleaves] = leaf;
		arrays[nleaves + 1] = tid_array(result.ctids + from, result.leaf_ends[l] - from);
		nleaves++;
	}
	if (direct)
		for (int l = 0; l < nleaves; l++) {
			char *sql = to_palloc(orphan_rows_by_ctid_query(spec, names[l]));
			CtidParams params{1, &arrays[l + 1], leaves[l]};
			run_as_checker(sql, fk, out, desc, &params);
			pfree(sql);
		}
	else {
		/* $1: every ctid (for TID scans), $2..: each leaf's own */
		arrays[0] = tid_array(result.ctids, result.nctids);
		char *sql = to_palloc(orphan_rows_by_ctid_through_parent_query(spec, leaves, nleaves));
		CtidParams params{nleaves + 1, arrays, InvalidOid};
		run_as_checker(sql, fk, out, desc, &params);
		pfree(sql);
		pfree(arrays[0]);
	}
	for (int l = 0; l < nleaves; l++)
		pfree(arrays[l + 1]);
	pfree(arrays);
	pfree(leaves);
	pfree(names);
}

/* The one pass's findings for one key, reported as the planner's path would. */
void
report_one_pass(const DeclaredForeignKey &fk, Report report, bool strict, const OnePassResult &result,
                Tuplestorestate *out, TupleDesc desc)
{
	const ForeignKeySpec &spec = fk.spec;
	if (report != Report::kRows) {
		Datum values[7] = {DirectFunctionCall1(namein, CStringGetDatum(spec.constraint_name)),
		                   ObjectIdGetDatum(spec.scan_relid),
		                   ObjectIdGetDatum(spec.parent_relid),
		                   BoolGetDatum(spec.validated),
		                   Int64GetDatum(result.orphan_rows),
		                   Int64GetDatum(result.missing_keys),
		                   ObjectIdGetDatum(spec.constraint_oid)};
		bool nulls[7] = {false, false, false, false, false, false, false};
		tuplestore_putvalues(out, desc, values, nulls);
		return;
	}
	if (result.nctids == 0)
		return;
	auto write = [&](Tuplestorestate *into) { show_orphans(fk, result, into, desc); };
	if (strict)
		write(out);
	else
		check_isolated(fk, report, out, desc, write);
}

/* The planner's path for one key, as before the one pass existed. */
void
check_with_planner(const DeclaredForeignKey &fk, Report report, int64 limit, bool strict, Tuplestorestate *out,
                   TupleDesc desc)
{
	char *sql = build_query(report, fk.spec, limit);
	if (strict)
		run_as_checker(sql, fk, out, desc);
	else
		check_isolated(fk, report, out, desc, [&](Tuplestorestate *into) { run_as_checker(sql, fk, into, desc); });
	pfree(sql);
}

/* Checks keys[from..to), which share their referencing table. */
void
check_table(const DeclaredForeignKey *keys, int from, int to, Report report, int64 limit, bool strict,
            Tuplestorestate *out, TupleDesc desc)
{
	int n = to - from;
	int *which = static_cast<int *>(palloc(sizeof(int) * n));
	int *slot_of = static_cast<int *>(palloc(sizeof(int) * n));
	const char **reasons = static_cast<const char **>(palloc(sizeof(const char *) * n));
	int passed = 0;
	double estimated = 0; /* the keys given the pass share one budget */
	for (int i = from; i < to; i++) {
		slot_of[i - from] = -1;
		if (!keys[i].checkable())
			continue;
		EngineChoice choice = report == Report::kLocatedRows
		                          ? EngineChoice{Engine::kPlanner, "fk_orphans_located() reads through the planner"}
		                          : choose_engine(keys[i], report, &estimated);
		reasons[i - from] = choice.reason;
		if (choice.engine == Engine::kOnePass) {
			slot_of[i - from] = passed;
			which[passed++] = i;
		}
	}

	OnePassResult *results = static_cast<OnePassResult *>(palloc0(sizeof(OnePassResult) * (passed + 1)));
	MemoryContext pass_context = nullptr;
	if (passed > 0) {
		pass_context = AllocSetContextCreate(CurrentMemoryContext, "fk_guard one pass", ALLOCSET_DEFAULT_SIZES);
		run_pass_isolated(keys, which, passed, report, limit, pass_context, results);
	}

	for (int i = from; i < to; i++) {
		CHECK_FOR_INTERRUPTS();
		if (!keys[i].checkable())
			continue;
		int s = slot_of[i - from];
		if (s >= 0 && results[s].done) {
			log_choice(keys[i].spec, true, reasons[i - from]);
			report_one_pass(keys[i], report, strict, results[s], out, desc);
		} else {
			log_choice(keys[i].spec, false, s >= 0 ? results[s].reason : reasons[i - from]);
			check_with_planner(keys[i], report, limit, strict, out, desc);
		}
	}
	if (pass_context != nullptr)
		MemoryContextDelete(pass_context);
	pfree(results);
	pfree(reasons);
	pfree(slot_of);
	pfree(which);
}

void
check_foreign_keys(Oid target, Report report, int64 limit, bool strict, Tuplestorestate *out, TupleDesc desc)
{
	int count = 0;
	const DeclaredForeignKey *keys = load_locked(target, &count);
	if (strict) {
		for (int i = 0; i < count; i++)
			if (!keys[i].checkable())
				raise_refusal(keys[i]);
	} else
		notice_skipped(keys, count);

	/* Keys are ordered by referencing table: each run of one table is checked together. */
	for (int from = 0; from < count;) {
		int to = from + 1;
		while (to < count && keys[to].spec.scan_relid == keys[from].spec.scan_relid)
			to++;
		check_table(keys, from, to, report, limit, strict, out, desc);
		from = to;
	}
}

void
plan_foreign_keys(Oid target, Tuplestorestate *out, TupleDesc desc)
{
	int count = 0;
	const DeclaredForeignKey *keys = load_locked(target, &count);
	for (int i = 0; i < count; i++)
		if (!keys[i].checkable())
			raise_refusal(keys[i]);
	double estimated = 0;
	for (int i = 0; i < count; i++) {
		/* what fk_orphans() would do; fk_orphan_summary() decides the same but
		 * also needs a hashable equality of the referencing type.  The keys of
		 * one table (consecutive) share the pass's budget. */
		if (i > 0 && keys[i].spec.scan_relid != keys[i - 1].spec.scan_relid)
			estimated = 0;
		EngineChoice choice = choose_engine(keys[i], Report::kRows, &estimated);
		Datum values[4] = {DirectFunctionCall1(namein, CStringGetDatum(keys[i].spec.constraint_name)),
		                   ObjectIdGetDatum(keys[i].spec.scan_relid),
		                   CStringGetTextDatum(choice.engine == Engine::kOnePass ? "one_pass" : "planner"),
		                   CStringGetTextDatum(choice.reason)};
		bool nulls[4] = {false, false, false, false};
		tuplestore_putvalues(out, desc, values, nulls);
	}
}

} // namespace fkg

namespace {

Datum
report_orphans(FunctionCallInfo fcinfo, fkg::Report report, int64 limit)
{
	Oid target = PG_ARGISNULL(0) ? InvalidOid : PG_GETARG_OID(0);
	if (!PG_ARGISNULL(0))
		fkg::check_target_is_table(target);

	ReturnSetInfo *rsinfo = fkg::compat::init_materialized_srf(fcinfo);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "fk_guard: SPI_connect failed");
	/* The tuplestore lives in the per-query context; SPI's own contexts end with SPI_finish. */
	MemoryContext old = MemoryContextSwitchTo(rsinfo->econtext->ecxt_per_query_memory);
	fkg::check_foreign_keys(target, report, limit, OidIsValid(target), rsinfo->setResult, rsinfo->setDesc);
	MemoryContextSwitchTo(old);
	SPI_finish();
	return (Datum) 0;
}

} // namespace

/* max_per_constraint, the second argument of fk_orphans and fk_orphans_located:
 * -1 (no limit) when NULL. */
static int64
max_per_constraint_argument(FunctionCallInfo fcinfo)
{
	if (PG_ARGISNULL(1))
		return -1;
	int64 limit = PG_GETARG_INT64(1);
	if (limit < 0)
		ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE), errmsg("max_per_constraint must not be negative"),
		                errhint("Pass NULL to list every orphan.")));
	return limit;
}

/* fk_orphans(target regclass, max_per_constraint bigint) */
FKG_FUNCTION(fk_orphans)
{
	return report_orphans(fcinfo, fkg::Report::kRows, max_per_constraint_argument(fcinfo));
}

/* fk_orphans_located(target regclass, max_per_constraint bigint): fk_orphans'
 * rows and the Citus shard each is in. */
FKG_FUNCTION(fk_orphans_located)
{
	return report_orphans(fcinfo, fkg::Report::kLocatedRows, max_per_constraint_argument(fcinfo));
}

/* fk_orphan_plan(target regclass) */
FKG_FUNCTION(fk_orphan_plan)
{
	Oid target = PG_GETARG_OID(0);
	fkg::check_target_is_table(target);
	ReturnSetInfo *rsinfo = fkg::compat::init_materialized_srf(fcinfo);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "fk_guard: SPI_connect failed");
	MemoryContext old = MemoryContextSwitchTo(rsinfo->econtext->ecxt_per_query_memory);
	fkg::plan_foreign_keys(target, rsinfo->setResult, rsinfo->setDesc);
	MemoryContextSwitchTo(old);
	SPI_finish();
	return (Datum) 0;
}

/* fk_orphan_summary(target regclass) */
FKG_FUNCTION(fk_orphan_summary)
{
	return report_orphans(fcinfo, fkg::Report::kSummary, -1);
}
