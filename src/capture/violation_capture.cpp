/*
 * violation_capture.cpp
 *    Sees every foreign-key violation, records it once, and lets it go on unchanged.
 *
 * A violation is recorded where PostgreSQL raises it.  The executor and
 * utility wrappers (ExecutorRun, ExecutorFinish, ProcessUtility) each push an
 * error context callback for the duration of the call (a Frame); errfinish
 * calls it for every ereport, and the innermost Frame records each fresh RI
 * error exactly once, however similar its text is to another one.  A
 * re-raise (PL/pgSQL's RAISE; or a block without a matching handler) calls no
 * context callbacks: it is the same violation, so nothing is added.
 *
 * What becomes of a violation is learnt afterwards, and decided by the rules
 * of violation_fate.h: these hooks report to them what happens (a Frame
 * starts or returns, a subtransaction rolls back, emit_log_hook sees an error
 * reach the client, the transaction ends) and write out what they say is
 * final, at the next safe point or as the transaction ends.  Violations that
 * no Frame saw are deferred checks failing as the transaction ends, added
 * by emit_log_hook.
 *
 * Nothing on the error path reads the catalogs or allocates, except
 * CopyErrorData into a context with a preallocated block: the constraint
 * descriptions come from constraint_cache, room for waiting violations from
 * violation_pending, both prepared at statement starts.  What a statement
 * does is read by statement_reader; violation_writer writes a violation out.
 */
#include "capture/violation_capture.h"

#include "capture/constraint_cache.h"
#include "capture/statement_reader.h"
#include "capture/violation_classify.h"
#include "capture/violation_fate.h"
#include "capture/violation_pending.h"
#include "capture/violation_store.h"
#include "capture/violation_writer.h"
#include "common/clipped_copy.h"
#include "common/compat.h"
#include "common/guc.h"
#include "common/pg_boundary.h"

extern "C" {
#include "access/parallel.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "commands/dbcommands.h"
#include "executor/executor.h"
#include "miscadmin.h"
#include "tcop/utility.h"
#include "utils/builtins.h"
#include "utils/elog.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/timestamp.h"
}

#include <cstring>

namespace fkg {

namespace {

/* One executor or utility call in progress: its error context callback, and
 * what a violation raised directly inside it is recorded as. */
struct Frame {
	ErrorContextCallback callback;
	uint64 started;         /* the fate clock when it started (FateBook::frame_starts) */
	const QueryDesc *query; /* an executor call's statement (its operations are read only when it raises) */
	unsigned operations;    /* a utility call's Operation, as a bit */
	bool deferred;          /* its checks fire after their statement (COMMIT, SET CONSTRAINTS) */
	const char *source;     /* its statement's text */
	Oid altering;           /* the table an ALTER TABLE changes, or InvalidOid */
	List *added;            /* the foreign keys an ALTER TABLE adds (ConstraintInfo *), from the statement */
};

/* What is known of the waiting violations' fates beyond each entry: the
 * clock that orders Frames and catches, the error in flight. */
FateBook fates;
bool compaction_due = false; /* entries were written at a transaction end; compact at the next safe point */

/* Violations past the pending budget. */
BeyondBudget beyond_budget;

enum class XactEnd { None, Commit, Prepare } xact_end = XactEnd::None;

MemoryContext capture_context = nullptr;
char database_name[kNameLength]; /* read once, while the catalogs may be read */
char session_user_name[kNameLength];
/* The table the innermost ALTER TABLE in progress changes. */
Oid altering = InvalidOid;
ViolationEvent scratch; /* the event being described on the error path */

ExecutorStart_hook_type prev_executor_start = nullptr;
ExecutorRun_hook_type prev_executor_run = nullptr;
ExecutorFinish_hook_type prev_executor_finish = nullptr;
ProcessUtility_hook_type prev_process_utility = nullptr;
emit_log_hook_type prev_emit_log = nullptr;

extern "C" void fkg_error_raised(void *arg);

bool
active()
{
	/* Shared memory is attached before any backend starts, and stays. */
	static bool attached = false;
	if (!attached)
		attached = violation_store_attached();
	return attached && !IsParallelWorker();
}

/* Prepares what the error path will need, while catalog access is allowed:
 * the context CopyErrorData copies into (its first block allocated up front,
 * so copying an error needs no new memory), room for pending violations, and
 * the session's names. */
void
prepare_capture()
{
	if (capture_context == nullptr)
		capture_context = AllocSetContextCreate(TopMemoryContext, "fk_guard capture", 64 * 1024, 64 * 1024, 256 * 1024);
	pending_reserve();
	if (*database_name == '\0' && IsTransactionState()) {
		char *name = get_database_name(MyDatabaseId);
		copy_truncated(database_name, sizeof(database_name), name ? name : "");
		char *user = GetUserNameFromId(GetSessionUserId(), true);
		copy_truncated(session_user_name, sizeof(session_user_name), user ? user : "");
	}
}

/* The Operations a Frame performs (a statement with data-modifying WITH has several). */
unsigned
frame_operations(const Frame *frame)
{
	return frame->query != nullptr ? statement_operations(frame->query) : frame->operations;
}

/* The first Frame on the error context stack from c down, or nullptr. */
const Frame *
frame_from(const ErrorContextCallback *c)
{
	for (; c != nullptr; c = c->previous)
		if (c->callback == fkg_error_raised)
			return (const Frame *) c->arg;
	return nullptr;
}

/* The innermost Frame on error_context_stack, or nullptr. */
const Frame *
innermost_frame()
{
	return frame_from(error_context_stack);
}

/* The table the innermost ALTER TABLE on error_context_stack changes, or InvalidOid. */
Oid
innermost_altering()
{
	for (const Frame *f = innermost_frame(); f != nullptr; f = frame_from(f->callback.previous))
		if (OidIsValid(f->altering))
			return f->altering;
	return InvalidOid;
}

/* Fills e from a genuine RI error; false when the error is not one.  frame is
 * the Frame it was raised in (nullptr: none). */
bool
describe(ViolationEvent *e, char *message, const ErrorData *edata, const Frame *frame)
{
	if (!is_ri_error(compat::is_ri_violation_sqlstate(edata->sqlerrcode), edata->filename))
		return false;
	bool match_full = edata->detail != nullptr &&
	                  strcmp(edata->detail, _("MATCH FULL does not allow mixing of null and nonnull key values.")) == 0;
	Side side;
	if (!classify_side(edata->message_id, match_full, &side))
		return false;

	memset(e, 0, offsetof(ViolationEvent, query));
	memset(&e->info, 0, sizeof(e->info));
	e->ts = GetCurrentTimestamp();
	e->dbid = MyDatabaseId;
	e->userid = GetUserId();
	e->pid = MyProcPid;
	e->side = side;
	e->operation = frame != nullptr ? operation_of(frame_operations(frame), side) : Operation::Other;
	e->deferred = frame != nullptr && frame->deferred;
	copy_clipped(e->schema_name, sizeof(e->schema_name), edata->schema_name);
	copy_clipped(e->table_name, sizeof(e->table_name), edata->table_name);
	copy_clipped(e->constraint_name, sizeof(e->constraint_name), edata->constraint_name);
	memcpy(e->database_name, database_name, sizeof(e->database_name));
	memcpy(e->user_name, session_user_name, sizeof(e->user_name));
	copy_clipped(e->application_name, sizeof(e->application_name), application_name);
	const char *key;
	size_t key_length;
	if (side != Side::MatchFull && find_key(edata->detail, &key, &key_length))
		copy_clipped(e->key, sizeof(e->key), key, key_length);
	copy_clipped(e->query, static_cast<size_t>(guc::max_query_length) + 1, debug_query_string);
	if (constraint_cache_lookup(e->schema_name, e->table_name, e->constraint_name, &e->info))
		;
	else if (const ConstraintInfo *added = frame != nullptr ? added_by_name(frame->added, e->constraint_name)
	                                                        : nullptr) {
		/* A foreign key this ALTER TABLE is adding, failing before any RI query ran. */
		e->info = *added;
		copy_clipped(e->info.declared_name, sizeof(e->info.declared_name), e->constraint_name);
		const char *named = quote_qualified_identifier(e->schema_name, e->table_name);
		if (strcmp(named, e->info.child_table) != 0)
			copy_clipped(e->info.child_partition, sizeof(e->info.child_partition), named);
	} else {
		/* Not described: keep what the error says. */
		copy_clipped(e->info.declared_name, sizeof(e->info.declared_name), e->constraint_name);
		if (side == Side::Child)
			quoted_name(e->info.parent_table, sizeof(e->info.parent_table), edata->detail, true);
		else if (side == Side::Parent)
			quoted_name(e->info.parent_table, sizeof(e->info.parent_table), edata->message, false);
	}
	copy_clipped(message, kMessageLength, edata->message);
	return true;
}

/* Adds a fresh violation; it is the one in flight. */
void
add_violation(const ViolationEvent &e, const char *message, const char *statement)
{
	if (pending_add(e, message, statement) != nullptr) {
		fates.raised(pending_fates(), pending_count() - 1, GetCurrentTransactionNestLevel());
		return;
	}
	beyond_budget.raised(e);
	fates.raised(pending_fates(), kBeyondBudget, GetCurrentTransactionNestLevel());
}

/* errfinish calls this for every ereport raised while frame is on the stack. */
void
error_raised(const Frame *frame)
{
	if (!compat::is_ri_violation_sqlstate(geterrcode()) || capture_context == nullptr || !active() ||
	    innermost_frame() != frame)
		return;
	MemoryContext old = MemoryContextSwitchTo(capture_context);
	ErrorData *edata = CopyErrorData();
	char message[kMessageLength];
	if (describe(&scratch, message, edata, frame))
		add_violation(scratch, message, frame->source);
	MemoryContextSwitchTo(old);
	MemoryContextReset(capture_context);
}

void
push_frame(Frame *frame, const QueryDesc *query, unsigned operations, bool deferred, const char *source)
{
	frame->started = fates.frame_starts();
	frame->query = query;
	frame->operations = operations;
	frame->deferred = deferred;
	frame->source = source;
	frame->altering = InvalidOid;
	frame->added = NIL;
	frame->callback.callback = fkg_error_raised;
	frame->callback.arg = frame;
	frame->callback.previous = error_context_stack;
	error_context_stack = &frame->callback;
}

/* After a normal return; an error longjmps past this, and its catcher restores error_context_stack. */
void
pop_frame(Frame *frame)
{
	error_context_stack = frame->callback.previous;
	fates.frame_returns(pending_fates(), frame->started);
}

/* Describes the relations a utility statement may raise RI errors about. */
void
note_utility_relations(const Node *statement, Frame *frame)
{
	const RangeVar *relation = nullptr;
	if (IsA(statement, CopyStmt) && ((const CopyStmt *) statement)->is_from)
		relation = ((const CopyStmt *) statement)->relation;
	else if (IsA(statement, AlterTableStmt))
		relation = ((const AlterTableStmt *) statement)->relation;
	if (relation == nullptr || !IsTransactionState())
		return;
	Oid relid = RangeVarGetRelid(relation, NoLock, true);
	if (!OidIsValid(relid))
		return;
	constraint_cache_note_relation(relid);
	if (IsA(statement, AlterTableStmt)) {
		frame->altering = relid;
		frame->added = added_foreign_keys((const AlterTableStmt *) statement, relid);
	}
}

/* Writes one waiting violation out, as its fate now says. */
void
write_pending(const PendingViolation &p)
{
	pending_expand(p, &scratch);
	memcpy(scratch.database_name, database_name, sizeof(scratch.database_name));
	write_violation(&scratch);
}

/* Writes the violations known to be final (at a safe point, mid-transaction). */
void
flush_final()
{
	for (int i = 0; i < pending_count(); i++)
		if (is_final(pending_at(i).fate))
			write_pending(pending_at(i));
	pending_remove_if(is_final);
	/* Give back what the written ones' groups, texts and keys took: all of it
	 * when nothing waits, by copying the rest when room runs short. */
	if (pending_count() == 0)
		pending_clear();
	else if (pending_crowded())
		pending_compact();
	fates.finals_removed();
}

/* Counts the violations past the budget; says so in the log. */
void
flush_beyond_budget(bool committed)
{
	int64 total = beyond_budget.lost();
	for (int i = 0; i < beyond_budget.constraints(); i++) {
		ViolationEvent &e = beyond_budget.event(i);
		complete_violation(&e);
		violation_store_count(&e, beyond_budget.count(i), beyond_budget.handled(i, committed));
		total += beyond_budget.count(i);
	}
	if (total > 0)
		ereport(LOG_SERVER_ONLY,
		        (errmsg_internal("fk_guard: %lld foreign-key violations of one transaction came past the %d that "
		                         "are kept for fk_violations; fk_violation_stats counts %lld of them",
		                         (long long) total, kMaxPendingViolations,
		                         (long long) (total - beyond_budget.lost()))));
	beyond_budget.clear();
}

/* Writes the pending violations to shared memory and the log as the
 * transaction ends, as FateBook::transaction_ends says. */
void
flush(bool committed)
{
	fates.transaction_ends(pending_fates(), committed, innermost_frame() != nullptr);
	for (int i = 0; i < pending_count(); i++)
		if (is_recorded(pending_at(i).fate))
			write_pending(pending_at(i));
	if (beyond_budget.any())
		flush_beyond_budget(committed);
	pending_remove_if(is_recorded);
	/* No allocation here (an error after a commit is a PANIC): what the
	 * written ones took is given back now when nothing waits, else at the
	 * next statement start. */
	if (pending_count() == 0)
		pending_clear();
	else
		compaction_due = true;
}

bool
anything_pending()
{
	return pending_count() > 0 || beyond_budget.any();
}

/* ---- hook bodies ---- */

/* A statement starts: a safe point. */
void
statement_starts()
{
	if (fates.finals_waiting())
		flush_final();
	if (compaction_due) {
		compaction_due = false;
		pending_compact();
	}
	prepare_capture(); /* after the flush, which may have given back the room */
}

void
executor_start(QueryDesc *query, int eflags)
{
	if (prev_executor_start)
		prev_executor_start(query, eflags);
	else
		standard_ExecutorStart(query, eflags);
	if (!active())
		return;
	statement_starts();
	/* Inside ALTER TABLE, a query is the RI check of a foreign key it has
	 * just added, cloned to a partition or is validating: read the table's
	 * foreign keys again now that they are in the catalogs. */
	if (OidIsValid(altering))
		constraint_cache_note_relation(altering);
	ListCell *lc;
	foreach (lc, query->estate->es_opened_result_relations) {
		Relation rel = ((ResultRelInfo *) lfirst(lc))->ri_RelationDesc;
		constraint_cache_note_open_relation(RelationGetRelid(rel), rel);
	}
}

void
executor_run(FKG_EXECUTOR_RUN_PARAMS)
{
	Frame frame;
	bool capture = active();
	if (capture)
		push_frame(&frame, query, 0, false, query->sourceText);
	if (prev_executor_run)
		prev_executor_run(FKG_EXECUTOR_RUN_ARGS);
	else
		standard_ExecutorRun(FKG_EXECUTOR_RUN_ARGS);
	if (capture)
		pop_frame(&frame);
}

void
executor_finish(QueryDesc *query)
{
	Frame frame;
	bool capture = active();
	if (capture)
		push_frame(&frame, query, 0, false, query->sourceText);
	if (prev_executor_finish)
		prev_executor_finish(query);
	else
		standard_ExecutorFinish(query);
	if (capture)
		pop_frame(&frame);
}

void
process_utility(PlannedStmt *pstmt, const char *query_string, bool read_only_tree, ProcessUtilityContext context,
                ParamListInfo params, QueryEnvironment *query_env, DestReceiver *dest, QueryCompletion *qc)
{
	Node *statement = pstmt->utilityStmt;
	Frame frame;
	bool capture = active();
	Oid outer_altering = altering;
	if (capture) {
		statement_starts();
		if (IsA(statement, TransactionStmt)) {
			TransactionStmtKind kind = ((TransactionStmt *) statement)->kind;
			if (kind == TRANS_STMT_COMMIT)
				xact_end = XactEnd::Commit;
			else if (kind == TRANS_STMT_PREPARE)
				xact_end = XactEnd::Prepare;
		}
		Operation operation = utility_operation(statement);
		push_frame(&frame, nullptr, operation_bit(operation), fires_after_statement(operation), query_string);
		note_utility_relations(statement, &frame);
		if (OidIsValid(frame.altering))
			altering = frame.altering;
	}
	if (prev_process_utility)
		prev_process_utility(pstmt, query_string, read_only_tree, context, params, query_env, dest, qc);
	else
		standard_ProcessUtility(pstmt, query_string, read_only_tree, context, params, query_env, dest, qc);
	if (capture) {
		pop_frame(&frame);
		altering = outer_altering;
	}
}

/* Runs in error recovery: no catalog access, no LWLocks, no errors. */
void
emit_log(ErrorData *edata)
{
	if (edata->elevel < ERROR || !compat::is_ri_violation_sqlstate(edata->sqlerrcode) || !active())
		return;
	char message[kMessageLength];
	if (!describe(&scratch, message, edata, nullptr))
		return;
	if (fates.in_flight() == kBeyondBudget) {
		beyond_budget.reaches_client();
		fates.reaches_client(pending_fates(), kBeyondBudget);
		return;
	}
	const char *context = edata->context;
	int index = fates.identify(
		pending_fates(), context != nullptr,
		[&message](int i) { return pending_matches(pending_at(i), scratch, message); },
		[context](int i) { return pending_statement_in(pending_at(i), context); });
	if (index == kNoEntry) {
		/* No Frame saw it: a deferred check failing as the transaction ends. */
		scratch.operation = xact_end == XactEnd::Prepare ? Operation::Prepare : Operation::Commit;
		scratch.deferred = true;
		add_violation(scratch, message, nullptr);
		index = fates.in_flight();
	}
	fates.reaches_client(pending_fates(), index);
	if (index < 0)
		return;
	PendingViolation &p = pending_at(index);
	if (guc::client_hint && edata->hint == nullptr) {
		ViolationEvent &e = scratch;
		pending_expand(p, &e);
		char hint[1024];
		if (render_fix_hint(e, hint, sizeof(hint))) {
			char *copy = (char *) palloc_extended(strlen(hint) + 1, MCXT_ALLOC_NO_OOM);
			if (copy != nullptr) {
				memcpy(copy, hint, strlen(hint) + 1);
				edata->hint = copy;
			}
		}
	}
}

void
transaction_callback(XactEvent event, void *arg)
{
	switch (event) {
	case XACT_EVENT_COMMIT:
	case XACT_EVENT_PARALLEL_COMMIT:
	case XACT_EVENT_PREPARE:
		if (active() && anything_pending())
			flush(true);
		break;
	case XACT_EVENT_ABORT:
	case XACT_EVENT_PARALLEL_ABORT:
		if (active() && anything_pending())
			flush(false);
		break;
	default:
		return;
	}
	xact_end = XactEnd::None;
	altering = InvalidOid;
}

/* A subtransaction rolls back: the violations raised inside it and not yet
 * reported are caught (swallowed, unless re-raised).  The catcher has
 * restored error_context_stack: the Frames on it are the live ones. */
void
subtransaction_callback(SubXactEvent event, SubTransactionId my, SubTransactionId parent, void *arg)
{
	if (event != SUBXACT_EVENT_ABORT_SUB)
		return;
	fates.subtransaction_aborts(pending_fates(), GetCurrentTransactionNestLevel());
	altering = innermost_altering();
}

/* ---- extern "C" shells ---- */

extern "C" void
fkg_error_raised(void *arg)
{
	invoke_quietly([arg]() { error_raised((const Frame *) arg); });
}

} // namespace

extern "C" {

static void
fkg_ExecutorStart(QueryDesc *query, int eflags)
{
	invoke([&]() {
		executor_start(query, eflags);
		return (Datum) 0;
	});
}

static void
fkg_ExecutorRun(FKG_EXECUTOR_RUN_PARAMS)
{
	invoke([&]() {
		executor_run(FKG_EXECUTOR_RUN_ARGS);
		return (Datum) 0;
	});
}

static void
fkg_ExecutorFinish(QueryDesc *query)
{
	invoke([&]() {
		executor_finish(query);
		return (Datum) 0;
	});
}

static void
fkg_ProcessUtility(PlannedStmt *pstmt, const char *query_string, bool read_only_tree, ProcessUtilityContext context,
                   ParamListInfo params, QueryEnvironment *query_env, DestReceiver *dest, QueryCompletion *qc)
{
	invoke([&]() {
		process_utility(pstmt, query_string, read_only_tree, context, params, query_env, dest, qc);
		return (Datum) 0;
	});
}

static void
fkg_emit_log(ErrorData *edata)
{
	invoke_quietly([&]() { emit_log(edata); });
	if (prev_emit_log)
		prev_emit_log(edata);
}

static void
fkg_transaction_callback(XactEvent event, void *arg)
{
	invoke_quietly([&]() { transaction_callback(event, arg); });
}

static void
fkg_subtransaction_callback(SubXactEvent event, SubTransactionId my, SubTransactionId parent, void *arg)
{
	invoke_quietly([&]() { subtransaction_callback(event, my, parent, arg); });
}
}

void
violation_capture_install()
{
	prev_executor_start = ExecutorStart_hook;
	ExecutorStart_hook = fkg_ExecutorStart;
	prev_executor_run = ExecutorRun_hook;
	ExecutorRun_hook = fkg_ExecutorRun;
	prev_executor_finish = ExecutorFinish_hook;
	ExecutorFinish_hook = fkg_ExecutorFinish;
	prev_process_utility = ProcessUtility_hook;
	ProcessUtility_hook = fkg_ProcessUtility;
	prev_emit_log = emit_log_hook;
	emit_log_hook = fkg_emit_log;
	RegisterXactCallback(fkg_transaction_callback, nullptr);
	RegisterSubXactCallback(fkg_subtransaction_callback, nullptr);
}

} // namespace fkg
