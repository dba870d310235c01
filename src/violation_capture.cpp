/*
 * violation_capture.cpp
 *    Sees every foreign-key violation, records it once, and lets it go on unchanged.
 *
 * No single hook sees every violation (../shared/DESIGN.md has the table):
 *  - an ExecutorFinish wrapper sees immediate checks, including those that
 *    server-side code later swallows (PL/pgSQL EXCEPTION blocks);
 *  - a ProcessUtility wrapper sees COPY, SET CONSTRAINTS and ALTER TABLE;
 *  - emit_log_hook sees what reaches the client, including deferred checks
 *    failing at COMMIT, at the end of an autocommit statement or at PREPARE.
 * Wrappers catch the error, copy what they need and re-throw it untouched
 * (PG_RE_THROW, never a new ereport).  Each violation becomes one pending
 * entry in this backend; the outermost wrapper of an error in flight does not
 * add a second one, and emit_log_hook marks the entry it matches as reaching
 * the client instead of adding one.
 *
 * Pending entries are written to shared memory and logged at a safe point: the
 * end of the transaction (at COMMIT, every violation that did not reach the
 * client was swallowed: handled), or the start of a statement once 16 wait.
 * A subtransaction rollback marks the violations inside it as caught, unless
 * a later emit shows a re-raise.
 *
 * Everything on the error path is fixed-size and allocation-free except
 * CopyErrorData, which copies into a context with a preallocated block; nothing
 * there reads the catalogs: the constraint descriptions come from
 * constraint_cache, filled when each statement starts.
 */
#include "violation_capture.h"

#include "clipped_copy.h"
#include "constraint_cache.h"
#include "guc.h"
#include "pg_boundary.h"
#include "violation_classify.h"
#include "violation_store.h"

extern "C" {
#include "access/parallel.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "executor/executor.h"
#include "commands/dbcommands.h"
#include "miscadmin.h"
#include "nodes/parsenodes.h"
#include "tcop/tcopprot.h"
#include "tcop/utility.h"
#include "lib/stringinfo.h"
#include "utils/builtins.h"
#include "utils/elog.h"
#include "utils/lsyscache.h"
#include "utils/guc.h"
#include "mb/pg_wchar.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/timestamp.h"
}

#include <cstring>

namespace fkg {

namespace {

/* A violation waiting for its safe point. */
struct Pending {
	ViolationEvent event;
	char message[kMessageLength]; /* with constraint and table: tells a re-raise from a new violation */
	int nest_level;               /* transaction nesting level when it was raised */
	bool emitted;                 /* reached the client (emit_log_hook saw it) */
	bool caught;                  /* rolled back by a subtransaction: swallowed, unless re-raised */
	uint64 caught_at;             /* statements_started when it was caught */
};

constexpr int kMaxPending = 32;
Pending pending[kMaxPending];
int npending = 0;
int lost = 0;           /* violations not recorded because pending was full */
int in_flight = -1;     /* the pending entry of the error now propagating, if any */

/* Executor starts in this backend.  A fresh RI violation always follows one
 * (the RI check is itself a query); a re-raise from an exception handler
 * usually does not. */
uint64 statements_started = 0;
enum class XactEnd { None, Commit, Prepare } xact_end = XactEnd::None;

MemoryContext capture_context = nullptr;
char database_name[kNameLength]; /* read once, while the catalogs may be read */
/* The foreign key an ALTER TABLE is adding: not in the catalogs until it commits. */
ConstraintInfo added_foreign_key;
char session_user_name[kNameLength];

ExecutorStart_hook_type prev_executor_start = nullptr;
ExecutorFinish_hook_type prev_executor_finish = nullptr;
ProcessUtility_hook_type prev_process_utility = nullptr;
emit_log_hook_type prev_emit_log = nullptr;

bool
active()
{
	return violation_store_attached() && !IsParallelWorker();
}

/* Prepares what the error path will need, while catalog access is allowed:
 * the context CopyErrorData copies into (its first block allocated up front,
 * so copying an error needs no new memory) and the session's names. */
void
prepare_capture()
{
	if (capture_context == nullptr)
		capture_context = AllocSetContextCreate(TopMemoryContext, "fk_guard capture", 64 * 1024, 64 * 1024,
		                                        256 * 1024);
	if (*database_name == '\0' && IsTransactionState()) {
		char *name = get_database_name(MyDatabaseId);
		copy_truncated(database_name, sizeof(database_name), name ? name : "");
		char *user = GetUserNameFromId(GetSessionUserId(), true);
		copy_truncated(session_user_name, sizeof(session_user_name), user ? user : "");
	}
}

/* Fills e from a genuine RI error; false when the error is not one. */
bool
describe(ViolationEvent *e, char *message, const ErrorData *edata)
{
	if (!is_ri_error(edata->sqlerrcode == ERRCODE_FOREIGN_KEY_VIOLATION, edata->filename))
		return false;
	bool match_full = edata->detail != nullptr &&
	                  strcmp(edata->detail, _("MATCH FULL does not allow mixing of null and nonnull key values.")) == 0;
	Side side;
	if (!classify_side(edata->message_id, match_full, &side))
		return false;

	memset(e, 0, sizeof(*e));
	e->ts = GetCurrentTimestamp();
	e->dbid = MyDatabaseId;
	e->userid = GetUserId();
	e->pid = MyProcPid;
	e->side = side;
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
	else if (*added_foreign_key.parent_table) {
		/* The foreign key this ALTER TABLE is adding. */
		e->info = added_foreign_key;
		copy_clipped(e->info.declared_name, sizeof(e->info.declared_name), e->constraint_name);
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

bool
same_violation(const Pending &p, const ViolationEvent &e, const char *message)
{
	return strcmp(p.event.constraint_name, e.constraint_name) == 0 && strcmp(p.event.table_name, e.table_name) == 0 &&
	       strcmp(p.event.key, e.key) == 0 && strcmp(p.message, message) == 0;
}

/* The newest pending entry for the same violation that is still open to a
 * match: caught but not yet emitted when reviving a re-raise (from an
 * executor wrapper, only if no statement ran since: otherwise it is a new
 * violation with the same key), or not yet emitted for emit_log_hook. */
enum class Match { ReRaiseInExecutor, ReRaise, Emit };

int
find_pending(const ViolationEvent &e, const char *message, Match match)
{
	for (int i = npending - 1; i >= 0; i--) {
		const Pending &p = pending[i];
		bool open = !p.emitted;
		if (match != Match::Emit)
			open = open && p.caught;
		if (match == Match::ReRaiseInExecutor)
			open = open && p.caught_at == statements_started;
		if (open && same_violation(p, e, message))
			return i;
	}
	return -1;
}

/* Adds a pending entry; returns its index, or -1 when full. */
int
add_pending(const ViolationEvent &e, const char *message, Operation operation, bool deferred)
{
	if (npending == kMaxPending) {
		lost++;
		return -1;
	}
	Pending &p = pending[npending];
	p.event = e;
	p.event.operation = operation;
	p.event.deferred = deferred;
	memcpy(p.message, message, kMessageLength);
	p.nest_level = GetCurrentTransactionNestLevel();
	p.emitted = false;
	p.caught = false;
	p.caught_at = 0;
	return npending++;
}

/*
 * Called from a wrapper's PG_CATCH with the error still in flight: records it
 * unless a deeper wrapper already did.  A re-raise of a caught violation
 * (RAISE; in an exception handler) revives its entry instead of adding one.
 */
void
capture_in_flight(Operation operation, bool deferred, bool in_executor)
{
	if (geterrcode() != ERRCODE_FOREIGN_KEY_VIOLATION || capture_context == nullptr)
		return;
	MemoryContext old = MemoryContextSwitchTo(capture_context);
	ErrorData *edata = CopyErrorData();
	MemoryContextSwitchTo(old);

	ViolationEvent e;
	char message[kMessageLength];
	if (describe(&e, message, edata)) {
		if (in_flight >= 0 && same_violation(pending[in_flight], e, message))
			; /* recorded by a deeper wrapper */
		else {
			int revived = find_pending(e, message, in_executor ? Match::ReRaiseInExecutor : Match::ReRaise);
			if (revived >= 0)
				pending[revived].caught = false;
			in_flight = revived >= 0 ? revived : add_pending(e, message, operation, deferred);
		}
	}
	MemoryContextReset(capture_context);
}

Operation
statement_operation(CmdType command)
{
	switch (command) {
	case CMD_INSERT:
		return Operation::Insert;
	case CMD_UPDATE:
		return Operation::Update;
	case CMD_DELETE:
		return Operation::Delete;
	case CMD_MERGE:
		return Operation::Merge;
	default:
		return Operation::Other;
	}
}

/* The operation a utility statement's own RI errors belong to.  Statements in
 * DO and CALL bodies are recorded by the executor hooks; what reaches here from
 * them is a COMMIT inside a procedure. */
Operation
utility_operation(const Node *statement)
{
	switch (nodeTag(statement)) {
	case T_CopyStmt:
		return Operation::Copy;
	case T_AlterTableStmt:
		return Operation::AlterTable;
	case T_ConstraintsSetStmt:
		return Operation::SetConstraints;
	case T_CallStmt:
	case T_DoStmt:
		return Operation::Commit;
	default:
		return Operation::Other;
	}
}

bool
fires_after_statement(Operation operation)
{
	return operation == Operation::Commit || operation == Operation::Prepare ||
	       operation == Operation::SetConstraints;
}

/* "a, b" from a list of String column names. */
void
column_names(char *buf, size_t size, List *names)
{
	StringInfoData list;
	initStringInfo(&list);
	ListCell *lc;
	foreach (lc, names)
		appendStringInfo(&list, "%s%s", list.len > 0 ? ", " : "", quote_identifier(strVal(lfirst(lc))));
	copy_clipped(buf, size, list.data);
	pfree(list.data);
}

/* Describes a foreign key that ALTER TABLE ... ADD is creating, from the statement. */
void
note_added_foreign_key(const AlterTableStmt *statement, Oid relid)
{
	ListCell *lc;
	foreach (lc, statement->cmds) {
		const AlterTableCmd *cmd = (const AlterTableCmd *) lfirst(lc);
		if (cmd->subtype != AT_AddConstraint || cmd->def == nullptr || !IsA(cmd->def, Constraint))
			continue;
		const Constraint *constraint = (const Constraint *) cmd->def;
		if (constraint->contype != CONSTR_FOREIGN)
			continue;
		Oid parent = RangeVarGetRelid(constraint->pktable, NoLock, true);
		if (!OidIsValid(parent))
			continue;
		ConstraintInfo &info = added_foreign_key;
		qualified_relation_name(info.child_table, sizeof(info.child_table), relid);
		qualified_relation_name(info.parent_table, sizeof(info.parent_table), parent);
		column_names(info.fk_columns, sizeof(info.fk_columns), constraint->fk_attrs);
		column_names(info.parent_columns, sizeof(info.parent_columns), constraint->pk_attrs);
		info.deferrable = constraint->deferrable;
		info.initially_deferred = constraint->initdeferred;
		return;
	}
}

/* Describes the relations a utility statement may raise RI errors about. */
void
note_utility_relations(const Node *statement)
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
	if (IsA(statement, AlterTableStmt))
		note_added_foreign_key((const AlterTableStmt *) statement, relid);
}

/* The whole log line in palloc'd memory, or NULL when it could not be made.
 * Its std::string is gone when this returns (pg_boundary.h, rule 3). */
char *
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
void
log_event(const ViolationEvent &e, int64 recent)
{
	char *line = render_log_line(e, recent, guc::log_format == guc::kLogJson, GetDatabaseEncoding() == PG_UTF8);
	if (line == nullptr)
		return;
	ereport(LOG_SERVER_ONLY, (errmsg_internal("%s", line), errhidestmt(true), errhidecontext(true)));
	pfree(line);
}

/* Writes one violation to shared memory and the log. */
void
record(Pending &p)
{
	p.event.handled = p.caught && !p.emitted;
	if (!p.event.info.resolved)
		constraint_cache_lookup(p.event.schema_name, p.event.table_name, p.event.constraint_name, &p.event.info);
	if (!*p.event.info.child_table)
		copy_clipped(p.event.info.child_table, sizeof(p.event.info.child_table),
		             quote_qualified_identifier(p.event.schema_name, p.event.table_name));
	int64 recent = violation_store_record(&p.event);
	if (guc::log_violations)
		log_event(p.event, recent);
}

/*
 * Writes the pending violations to shared memory and the log.  When the
 * transaction commits, every one that did not reach the client was swallowed
 * by server-side code.
 */
void
flush(bool committed)
{
	for (int i = 0; i < npending; i++) {
		if (committed)
			pending[i].caught = true;
		record(pending[i]);
	}
	if (lost > 0)
		ereport(LOG_SERVER_ONLY, (errmsg_internal("fk_guard: %d foreign-key violations in one transaction were not "
		                                          "recorded (more than %d pending)",
		                                          lost, kMaxPending)));
	npending = 0;
	lost = 0;
	in_flight = -1;
}

/* ---- hook bodies ---- */

void
executor_start(QueryDesc *query, int eflags)
{
	if (prev_executor_start)
		prev_executor_start(query, eflags);
	else
		standard_ExecutorStart(query, eflags);
	if (!active())
		return;
	prepare_capture();
	statements_started++;
	in_flight = -1;
	/* Many violations in one statement or transaction (a PL/pgSQL loop
	 * swallowing them, a client rolling back to savepoints): write the pending
	 * ones now.  Only a violation re-raised by a handler after other statements
	 * ran could have needed its entry again. */
	if (npending >= kMaxPending / 2)
		flush(false);
	ListCell *lc;
	foreach (lc, query->estate->es_opened_result_relations)
		constraint_cache_note_relation(RelationGetRelid(((ResultRelInfo *) lfirst(lc))->ri_RelationDesc));
}

void
executor_finish(QueryDesc *query)
{
	PG_TRY();
	{
		if (prev_executor_finish)
			prev_executor_finish(query);
		else
			standard_ExecutorFinish(query);
	}
	PG_CATCH();
	{
		if (active())
			capture_in_flight(statement_operation(query->operation), false, true);
		PG_RE_THROW();
	}
	PG_END_TRY();
}

void
process_utility(PlannedStmt *pstmt, const char *query_string, bool read_only_tree, ProcessUtilityContext context,
                ParamListInfo params, QueryEnvironment *query_env, DestReceiver *dest, QueryCompletion *qc)
{
	Node *statement = pstmt->utilityStmt;
	if (active()) {
		prepare_capture();
		memset(&added_foreign_key, 0, sizeof(added_foreign_key));
		note_utility_relations(statement);
		if (IsA(statement, TransactionStmt)) {
			TransactionStmtKind kind = ((TransactionStmt *) statement)->kind;
			if (kind == TRANS_STMT_COMMIT)
				xact_end = XactEnd::Commit;
			else if (kind == TRANS_STMT_PREPARE)
				xact_end = XactEnd::Prepare;
		}
	}
	PG_TRY();
	{
		if (prev_process_utility)
			prev_process_utility(pstmt, query_string, read_only_tree, context, params, query_env, dest, qc);
		else
			standard_ProcessUtility(pstmt, query_string, read_only_tree, context, params, query_env, dest, qc);
	}
	PG_CATCH();
	{
		if (active()) {
			Operation operation = utility_operation(statement);
			capture_in_flight(operation, fires_after_statement(operation), false);
		}
		PG_RE_THROW();
	}
	PG_END_TRY();
}

/* Runs in error recovery: no catalog access, no LWLocks, no errors. */
void
emit_log(ErrorData *edata)
{
	if (edata->elevel < ERROR || edata->sqlerrcode != ERRCODE_FOREIGN_KEY_VIOLATION || !active())
		return;
	ViolationEvent e;
	char message[kMessageLength];
	if (!describe(&e, message, edata))
		return;
	int index = find_pending(e, message, Match::Emit);
	if (index < 0) {
		/* No wrapper saw it: a deferred check failing as the transaction ends. */
		Operation operation = xact_end == XactEnd::Prepare ? Operation::Prepare : Operation::Commit;
		index = add_pending(e, message, operation, true);
	}
	if (index >= 0) {
		pending[index].emitted = true;
		pending[index].caught = false;
	}
	if (guc::client_hint && edata->hint == nullptr && index >= 0) {
		char hint[1024];
		if (render_fix_hint(pending[index].event, hint, sizeof(hint))) {
			char *copy = (char *) palloc_extended(strlen(hint) + 1, MCXT_ALLOC_NO_OOM);
			if (copy != nullptr) {
				memcpy(copy, hint, strlen(hint) + 1);
				edata->hint = copy;
			}
		}
	}
}

void
transaction_callback(XactEvent event, void *)
{
	switch (event) {
	case XACT_EVENT_COMMIT:
	case XACT_EVENT_PARALLEL_COMMIT:
	case XACT_EVENT_PREPARE:
		if (active() && npending > 0)
			flush(true);
		xact_end = XactEnd::None;
		in_flight = -1;
		break;
	case XACT_EVENT_ABORT:
	case XACT_EVENT_PARALLEL_ABORT:
		if (active() && npending > 0)
			flush(false);
		xact_end = XactEnd::None;
		in_flight = -1;
		break;
	default:
		break;
	}
}

void
subtransaction_callback(SubXactEvent event, SubTransactionId, SubTransactionId, void *)
{
	if (event != SUBXACT_EVENT_ABORT_SUB)
		return;
	int level = GetCurrentTransactionNestLevel();
	for (int i = 0; i < npending; i++)
		if (pending[i].nest_level >= level && !pending[i].emitted && !pending[i].caught) {
			pending[i].caught = true;
			pending[i].caught_at = statements_started;
		}
	in_flight = -1;
}

} // namespace

/* ---- extern "C" shells ---- */

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
