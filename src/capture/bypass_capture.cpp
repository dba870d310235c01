/*
 * bypass_capture.cpp
 *    Sees every write that a foreign key's RI triggers did not check.
 *
 * PostgreSQL enforces a foreign key with row triggers: check triggers on the
 * referencing table (INSERT, UPDATE) and action triggers on the referenced
 * table (DELETE, UPDATE), on each leaf partition for a partitioned table (the
 * clones of the declared constraint).  A row trigger fires or not as
 * trigger.c's TriggerEnabled() decides from its tgenabled and
 * session_replication_role: 'O' (the default for RI triggers) fires unless
 * the role is replica, 'R' only when it is, 'A' always, 'D' never.  So a
 * write went unchecked for a foreign key exactly when the relation written
 * (the leaf partition, for a partitioned table) has one of its RI triggers
 * for that kind of write and that trigger did not fire.
 *
 * When a statement ends (ExecutorEnd; after COPY FROM in ProcessUtility),
 * the result relations it wrote are examined from their relcache entries:
 * a relation's trigger descriptor holds tgenabled, and the relcache is
 * invalidated by ALTER TABLE ... DISABLE/ENABLE TRIGGER, so the common case
 * (role origin, RI triggers enabled) costs one comparison per trigger and
 * reads no catalog.  Only a bypassed write reads the catalogs: to fold a
 * partition's clone into the declared foreign key and to name it in the
 * log line, written then, one per statement and foreign key.
 *
 * The rows are counted from the executor's es_processed (COPY: its processed
 * count), per declared foreign key and statement, and added to shared memory
 * when the transaction commits (bypass_store), with the commit time: an
 * audit whose check started before that time may not have seen them.
 * Rolled-back writes are not counted.  A statement with data-modifying WITH
 * counts the main statement's rows for every table it wrote.  A statement
 * writing several partitions of which some bypassed counts all its rows.
 */
#include "capture/bypass_capture.h"

#include "capture/bypass_line.h"
#include "capture/bypass_store.h"
#include "capture/constraint_cache.h"
#include "capture/violation_classify.h"
#include "common/compat.h"
#include "common/declared_constraint.h"
#include "common/guc.h"
#include "common/pg_boundary.h"

extern "C" {
#include "access/genam.h"
#include "access/htup_details.h"
#include "access/parallel.h"
#include "access/table.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_constraint.h"
#include "catalog/partition.h"
#include "catalog/pg_inherits.h"
#include "catalog/pg_subscription.h"
#include "catalog/pg_subscription_rel.h"
#include "catalog/pg_trigger.h"
#include "commands/dbcommands.h"
#include "commands/trigger.h"
#include "executor/executor.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "nodes/parsenodes.h"
#include "nodes/plannodes.h"
#include "tcop/utility.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"
}

namespace fkg {

namespace {

/* Kinds of write, as bits (a statement's, and what an RI trigger is for). */
constexpr unsigned kInsert = 1u << 0;
constexpr unsigned kUpdate = 1u << 1;
constexpr unsigned kDelete = 1u << 2;
constexpr unsigned kAnyWrite = kInsert | kUpdate | kDelete;

/* Distinct (foreign key, role) counts a transaction keeps until it commits;
 * more are counted in the overflow counter. */
constexpr int kMaxPendingWrites = 64;
/* Distinct (constraint, relation) pairs one statement tells apart; the
 * rows of a statement with more are counted in the overflow counter too. */
constexpr int kMaxStatementKeys = 32;

BypassWrite pending[kMaxPendingWrites];
int npending = 0;
BypassWrite pending_overflow; /* declared_oid InvalidOid: counted in the overflow counter */

/* One foreign key a statement bypassed. */
struct StatementKey {
	Oid constraint; /* the pg_constraint row of the trigger (a clone on a partition) */
	Oid relid;      /* the relation written */
	bool parent_side;
	uint32 reasons;
};

struct StatementBypasses {
	int n;
	bool overflowed; /* more keys than kMaxStatementKeys */
	StatementKey keys[kMaxStatementKeys];
};

ExecutorEnd_hook_type prev_executor_end = nullptr;
ProcessUtility_hook_type prev_process_utility = nullptr;

bool
active()
{
	return bypass_store_attached() && !IsParallelWorker();
}

/*
 * The session_replication_role values in effect at some time in this
 * transaction besides the current one (bit 1 << role).  TriggerEnabled()
 * reads the role when each row is written, and a statement can change it
 * while it runs (set_config() in a RETURNING list, a select list or a
 * trigger), so the role at ExecutorEnd alone does not tell which RI triggers
 * fired: every role in effect since the transaction began is considered.
 * An assign hook chained to the setting's notes the value replaced and the
 * new one while a transaction is in progress (the role in effect when it
 * began is the first change's old value); cleared when the transaction ends.
 */
int roles_set = 0;
GucEnumAssignHook prev_role_assign = nullptr;

/* Why a trigger does not fire under role (TriggerEnabled(), trigger.c); 0 when it fires. */
uint32
not_firing_as(int role, char tgenabled)
{
	if (role == SESSION_REPLICATION_ROLE_REPLICA) {
		if (tgenabled == TRIGGER_FIRES_ON_REPLICA || tgenabled == TRIGGER_FIRES_ALWAYS)
			return 0;
		return tgenabled == TRIGGER_DISABLED ? kTriggersDisabled : kReplicaRole;
	}
	if (tgenabled == TRIGGER_FIRES_ON_ORIGIN || tgenabled == TRIGGER_FIRES_ALWAYS)
		return 0;
	return tgenabled == TRIGGER_DISABLED ? kTriggersDisabled : kTriggersReplicaOnly;
}

/* Why trigger t may not have fired in this transaction's statements so far; 0 when it fired. */
uint32
not_firing(char tgenabled)
{
	if (roles_set == 0) /* the role did not change in this transaction */
		return not_firing_as(SessionReplicationRole, tgenabled);
	int roles = roles_set | (1 << SessionReplicationRole);
	uint32 reasons = 0;
	for (int role : {SESSION_REPLICATION_ROLE_ORIGIN, SESSION_REPLICATION_ROLE_REPLICA, SESSION_REPLICATION_ROLE_LOCAL})
		if (roles & (1 << role))
			reasons |= not_firing_as(role, tgenabled);
	return reasons;
}

/* The kinds of write a row trigger is for. */
unsigned
trigger_writes(int16 tgtype)
{
	return (TRIGGER_FOR_INSERT(tgtype) ? kInsert : 0) | (TRIGGER_FOR_UPDATE(tgtype) ? kUpdate : 0) |
	       (TRIGGER_FOR_DELETE(tgtype) ? kDelete : 0);
}

void
note_key(StatementBypasses *s, Oid constraint, Oid relid, bool parent_side, uint32 reasons)
{
	for (int i = 0; i < s->n; i++)
		if (s->keys[i].constraint == constraint && s->keys[i].relid == relid) {
			s->keys[i].reasons |= reasons;
			return;
		}
	if (s->n < kMaxStatementKeys)
		s->keys[s->n++] = {constraint, relid, parent_side, reasons};
	else
		s->overflowed = true;
}

/* Notes the foreign keys whose RI triggers on rel did not fire for writes of these kinds. */
void
examine_relation(Relation rel, unsigned writes, StatementBypasses *s)
{
	const TriggerDesc *triggers = rel->trigdesc;
	/* A partitioned table's rows live in its leaves, whose triggers are examined. */
	if (triggers == nullptr || rel->rd_rel->relkind == RELKIND_PARTITIONED_TABLE)
		return;
	for (int i = 0; i < triggers->numtriggers; i++) {
		const Trigger &t = triggers->triggers[i];
		if (!OidIsValid(t.tgconstraint))
			continue;
		uint32 reasons = not_firing(t.tgenabled);
		if (reasons == 0 || !(trigger_writes(t.tgtype) & writes))
			continue;
		int type = RI_FKey_trigger_type(t.tgfoid);
		if (type == RI_TRIGGER_NONE)
			continue;
		note_key(s, t.tgconstraint, RelationGetRelid(rel), type == RI_TRIGGER_PK, reasons);
	}
}

/* The names of a declared foreign key, for its counter and the log line. */
struct KeyNames {
	char constraint[kNameLength];
	char child_table[kQualifiedLength];
	char parent_table[kQualifiedLength];
};

bool
key_names(Oid declared, KeyNames *names)
{
	HeapTuple tuple = SearchSysCache1(CONSTROID, ObjectIdGetDatum(declared));
	if (!HeapTupleIsValid(tuple))
		return false;
	Form_pg_constraint con = (Form_pg_constraint) GETSTRUCT(tuple);
	copy_truncated(names->constraint, sizeof(names->constraint), NameStr(con->conname));
	qualified_relation_name(names->child_table, sizeof(names->child_table), con->conrelid);
	qualified_relation_name(names->parent_table, sizeof(names->parent_table), con->confrelid);
	ReleaseSysCache(tuple);
	return true;
}

void
add_overflow(int64 rows, uint32 reasons)
{
	pending_overflow.dbid = MyDatabaseId;
	pending_overflow.rows += rows;
	pending_overflow.reasons |= reasons;
	pending_overflow.ts = 1; /* something to add, even with no rows */
}

/* Adds rows to the transaction's count for (declared, role). */
void
add_pending(Oid declared, Oid role, int64 rows, uint32 reasons, const KeyNames &names)
{
	for (int i = 0; i < npending; i++)
		if (pending[i].declared_oid == declared && pending[i].role == role) {
			pending[i].rows += rows;
			pending[i].reasons |= reasons;
			return;
		}
	if (npending == kMaxPendingWrites) {
		add_overflow(rows, reasons);
		return;
	}
	BypassWrite *w = &pending[npending++];
	memset(w, 0, sizeof(*w));
	w->dbid = MyDatabaseId;
	w->declared_oid = declared;
	w->role = role;
	w->rows = rows;
	w->reasons = reasons;
	memcpy(w->declared_name, names.constraint, sizeof(w->declared_name));
	memcpy(w->child_table, names.child_table, sizeof(w->child_table));
	memcpy(w->parent_table, names.parent_table, sizeof(w->parent_table));
}

/* Writes a log line made by render (which may throw: it runs in C++ only,
 * and its std::string is gone before ereport is called; pg_boundary.h rule 3). */
template <typename Render>
void
log_line(Render &&render)
{
	char *line = nullptr;
	try {
		line = to_palloc(render(GetDatabaseEncoding() == PG_UTF8));
	} catch (...) {
		line = nullptr;
	}
	if (line == nullptr)
		return;
	ereport(LOG_SERVER_ONLY, (errmsg_internal("%s", line), errhidestmt(true), errhidecontext(true)));
	pfree(line);
}

const char *
user_name()
{
	const char *user = GetUserNameFromId(GetUserId(), true);
	return user != nullptr ? user : "";
}

const char *
database_name()
{
	const char *name = get_database_name(MyDatabaseId);
	return name != nullptr ? name : "";
}

/* Counts and logs what a statement bypassed: rows once per declared foreign key. */
void
record_statement(const StatementBypasses &s, int64 rows, const char *operation)
{
	Oid done[kMaxStatementKeys];
	int ndone = 0;
	if (s.overflowed) {
		uint32 reasons = 0;
		for (int i = 0; i < s.n; i++)
			reasons |= s.keys[i].reasons;
		add_overflow(rows, reasons);
	}
	for (int i = 0; i < s.n; i++) {
		Oid declared = declared_constraint_of(s.keys[i].constraint);
		bool seen = false;
		for (int j = 0; j < ndone; j++)
			seen = seen || done[j] == declared;
		if (seen)
			continue;
		done[ndone++] = declared;
		uint32 reasons = 0;
		for (int j = i; j < s.n; j++)
			if (declared_constraint_of(s.keys[j].constraint) == declared)
				reasons |= s.keys[j].reasons;
		KeyNames names;
		if (!key_names(declared, &names))
			continue;
		add_pending(declared, GetUserId(), rows, reasons, names);
		if (!guc::log_bypass)
			continue;
		char table[kQualifiedLength];
		qualified_relation_name(table, sizeof(table), s.keys[i].relid);
		BypassLine line = {
			names.constraint, names.child_table, names.parent_table, table,    s.keys[i].parent_side, operation, rows,
			reasons,          user_name(),       database_name(),    MyProcPid};
		log_line([&line](bool utf8) {
			return guc::log_format == guc::kLogJson ? bypass_line_json(line, utf8) : bypass_line_text(line, utf8);
		});
	}
}

/* ---- statements ---- */

void
examine_result_relations(List *relations, unsigned writes, StatementBypasses *s)
{
	ListCell *lc;
	foreach (lc, relations)
		examine_relation(((ResultRelInfo *) lfirst(lc))->ri_RelationDesc, writes, s);
}

void
statement_ends(QueryDesc *query)
{
	const PlannedStmt *stmt = query->plannedstmt;
	EState *estate = query->estate;
	if (estate == nullptr || (estate->es_top_eflags & EXEC_FLAG_EXPLAIN_ONLY))
		return;
	unsigned writes;
	const char *operation;
	switch (query->operation) {
	case CMD_INSERT:
		/* A parent's UPDATE action triggers matter to ON CONFLICT DO UPDATE
		 * only: a plain INSERT into a referenced table cannot orphan a row. */
		writes = kInsert;
		if (!IsA(stmt->planTree, ModifyTable) ||
		    ((const ModifyTable *) stmt->planTree)->onConflictAction == ONCONFLICT_UPDATE)
			writes |= kUpdate;
		operation = "INSERT";
		break;
	case CMD_UPDATE:
		writes = kUpdate;
		operation = "UPDATE";
		break;
	case CMD_DELETE:
		writes = kDelete;
		operation = "DELETE";
		break;
	case CMD_MERGE:
		writes = kAnyWrite;
		operation = "MERGE";
		break;
	default:
		writes = 0;
		operation = "WITH";
		break;
	}
	if (stmt->hasModifyingCTE)
		writes = kAnyWrite;
	if (writes == 0 || (estate->es_processed == 0 && !stmt->hasModifyingCTE))
		return;
	StatementBypasses s;
	s.n = 0;
	s.overflowed = false;
	examine_result_relations(estate->es_opened_result_relations, writes, &s);
	/* Rows routed to a partition are inserted there (an UPDATE moving a row, too). */
	examine_result_relations(estate->es_tuple_routing_result_relations,
	                         query->operation == CMD_UPDATE ? (writes | kInsert) : writes, &s);
	if (s.n > 0)
		record_statement(s, (int64) estate->es_processed, operation);
}

/* Examines the table COPY FROM wrote (it holds RowExclusiveLock on it), or
 * the leaf partitions it routed rows to: those it locked (a leaf the
 * transaction wrote before counts too; the others are neither locked nor read). */
void
examine_copy_target(Oid relid, unsigned writes, StatementBypasses *s)
{
	List *tables = get_rel_relkind(relid) == RELKIND_PARTITIONED_TABLE ? find_all_inheritors(relid, NoLock, nullptr)
	                                                                   : list_make1_oid(relid);
	ListCell *lc;
	foreach (lc, tables) {
		Oid table = lfirst_oid(lc);
		if (!compat::relation_locked_by_me(table, RowExclusiveLock))
			continue;
		Relation rel = table_open(table, NoLock);
		examine_relation(rel, writes, s);
		table_close(rel, NoLock);
	}
}

void
copy_ends(Oid relid, const QueryCompletion *qc)
{
	if (!OidIsValid(relid) || qc == nullptr || qc->nprocessed == 0)
		return;
	StatementBypasses s;
	s.n = 0;
	s.overflowed = false;
	examine_copy_target(relid, kInsert, &s);
	if (s.n > 0)
		record_statement(s, (int64) qc->nprocessed, "COPY");
}

/* The triggers an ALTER TABLE command may have stopped from firing in origin sessions. */
bool
stops_triggers(const AlterTableCmd *cmd)
{
	return cmd->subtype == AT_DisableTrig || cmd->subtype == AT_DisableTrigAll || cmd->subtype == AT_EnableReplicaTrig;
}

/* Logs the RI triggers an ALTER TABLE left not firing in origin sessions. */
void
alter_table_ends(const AlterTableStmt *alter)
{
	const char *named = nullptr; /* DISABLE TRIGGER name: that trigger only */
	bool any = false;
	ListCell *lc;
	foreach (lc, alter->cmds) {
		const AlterTableCmd *cmd = (const AlterTableCmd *) lfirst(lc);
		if (!stops_triggers(cmd))
			continue;
		any = true;
		if (cmd->subtype != AT_DisableTrigAll)
			named = named == nullptr ? cmd->name : named;
		else
			named = "";
	}
	if (!any || !guc::log_bypass)
		return;
	Oid relid = RangeVarGetRelid(alter->relation, NoLock, true);
	if (!OidIsValid(relid))
		return;
	CommandCounterIncrement();
	List *tables = find_all_inheritors(relid, AccessShareLock, nullptr);
	foreach (lc, tables) {
		Relation rel = table_open(lfirst_oid(lc), NoLock);
		const TriggerDesc *triggers = rel->trigdesc;
		for (int i = 0; triggers != nullptr && i < triggers->numtriggers; i++) {
			const Trigger &t = triggers->triggers[i];
			if (!OidIsValid(t.tgconstraint) ||
			    (t.tgenabled != TRIGGER_DISABLED && t.tgenabled != TRIGGER_FIRES_ON_REPLICA))
				continue;
			if (*named != '\0' && strcmp(t.tgname, named) != 0)
				continue;
			int type = RI_FKey_trigger_type(t.tgfoid);
			if (type == RI_TRIGGER_NONE)
				continue;
			/* One line per constraint and table: its other RI triggers say the same. */
			bool earlier = false;
			for (int j = 0; j < i; j++)
				earlier = earlier || (triggers->triggers[j].tgconstraint == t.tgconstraint &&
				                      (triggers->triggers[j].tgenabled == TRIGGER_DISABLED ||
				                       triggers->triggers[j].tgenabled == TRIGGER_FIRES_ON_REPLICA) &&
				                      (*named == '\0' || strcmp(triggers->triggers[j].tgname, named) == 0));
			KeyNames names;
			if (earlier || !key_names(declared_constraint_of(t.tgconstraint), &names))
				continue;
			char table[kQualifiedLength];
			qualified_relation_name(table, sizeof(table), RelationGetRelid(rel));
			TriggerLine line = {names.constraint,
			                    names.child_table,
			                    names.parent_table,
			                    table,
			                    type == RI_TRIGGER_PK,
			                    t.tgenabled == TRIGGER_FIRES_ON_REPLICA,
			                    user_name(),
			                    database_name(),
			                    MyProcPid};
			log_line([&line](bool utf8) {
				return guc::log_format == guc::kLogJson ? trigger_line_json(line, utf8) : trigger_line_text(line, utf8);
			});
		}
		table_close(rel, NoLock);
	}
}

/* ---- subscriptions ---- */

/* The tables of this database's subscription subname (pg_subscription_rel),
 * read before DROP or ALTER SUBSCRIPTION may take them out of it. */
List *
subscription_tables(const char *subname)
{
	Oid subscription = subname != nullptr ? get_subscription_oid(subname, true) : InvalidOid;
	if (!OidIsValid(subscription))
		return NIL;
	List *tables = NIL;
	Relation catalog = table_open(SubscriptionRelRelationId, AccessShareLock);
	ScanKeyData key;
	ScanKeyInit(&key, Anum_pg_subscription_rel_srsubid, BTEqualStrategyNumber, F_OIDEQ, ObjectIdGetDatum(subscription));
	SysScanDesc scan = systable_beginscan(catalog, InvalidOid, false, nullptr, 1, &key);
	HeapTuple tuple;
	while (HeapTupleIsValid(tuple = systable_getnext(scan)))
		tables = lappend_oid(tables, ((Form_pg_subscription_rel) GETSTRUCT(tuple))->srrelid);
	systable_endscan(scan);
	table_close(catalog, AccessShareLock);
	return tables;
}

/*
 * The subscription flag (fk_guard_bypass_reasons()) lasts while a table is in
 * pg_subscription_rel; what the apply worker wrote until then must stay
 * unseen by checks that started before.  So every declared foreign key with a
 * table that was subscribed (or a partition of it) on either side counts as
 * bypassed when the DROP or ALTER SUBSCRIPTION commits (no rows: the apply
 * worker's are not known).
 */
void
subscription_tables_left(List *tables)
{
	List *related = NIL;
	ListCell *lc;
	foreach (lc, tables) {
		Oid table = lfirst_oid(lc);
		if (get_rel_relkind(table) == '\0')
			continue;
		related = list_append_unique_oid(related, table);
		if (get_rel_relispartition(table))
			related = list_concat_unique_oid(related, get_partition_ancestors(table));
	}
	if (related == NIL)
		return;
	List *keys = NIL;
	Relation catalog = table_open(ConstraintRelationId, AccessShareLock);
	SysScanDesc scan = systable_beginscan(catalog, InvalidOid, false, nullptr, 0, nullptr);
	HeapTuple tuple;
	while (HeapTupleIsValid(tuple = systable_getnext(scan))) {
		const FormData_pg_constraint *con = (Form_pg_constraint) GETSTRUCT(tuple);
		if (con->contype == CONSTRAINT_FOREIGN && !OidIsValid(con->conparentid) &&
		    (list_member_oid(related, con->conrelid) || list_member_oid(related, con->confrelid)))
			keys = lappend_oid(keys, con->oid);
	}
	systable_endscan(scan);
	table_close(catalog, AccessShareLock);
	foreach (lc, keys) {
		KeyNames names;
		if (key_names(lfirst_oid(lc), &names))
			add_pending(lfirst_oid(lc), GetUserId(), 0, kSubscriptionLeft, names);
	}
}

/* ---- hook bodies ---- */

void
executor_end(QueryDesc *query)
{
	if (active())
		statement_ends(query);
	if (prev_executor_end)
		prev_executor_end(query);
	else
		standard_ExecutorEnd(query);
}

void
process_utility(PlannedStmt *pstmt, const char *query_string, bool read_only_tree, ProcessUtilityContext context,
                ParamListInfo params, QueryEnvironment *query_env, DestReceiver *dest, QueryCompletion *qc)
{
	Node *statement = pstmt->utilityStmt;
	/* COPY FROM's table, named as COPY names it: the search_path may differ
	 * once it has run (a column default or a trigger may set it). */
	Oid copy_target = InvalidOid;
	if (IsA(statement, CopyStmt) && ((const CopyStmt *) statement)->is_from &&
	    ((const CopyStmt *) statement)->relation != nullptr && active() && IsTransactionState())
		copy_target = RangeVarGetRelid(((const CopyStmt *) statement)->relation, NoLock, true);
	List *subscribed = NIL;
	if (IsA(statement, DropSubscriptionStmt) && active() && IsTransactionState())
		subscribed = subscription_tables(((const DropSubscriptionStmt *) statement)->subname);
	else if (IsA(statement, AlterSubscriptionStmt) && active() && IsTransactionState())
		subscribed = subscription_tables(((const AlterSubscriptionStmt *) statement)->subname);
	if (prev_process_utility)
		prev_process_utility(pstmt, query_string, read_only_tree, context, params, query_env, dest, qc);
	else
		standard_ProcessUtility(pstmt, query_string, read_only_tree, context, params, query_env, dest, qc);
	if (!active() || !IsTransactionState())
		return;
	if (subscribed != NIL)
		subscription_tables_left(subscribed);
	if (IsA(statement, CopyStmt))
		copy_ends(copy_target, qc);
	else if (IsA(statement, AlterTableStmt))
		alter_table_ends((const AlterTableStmt *) statement);
}

void
clear_pending()
{
	npending = 0;
	memset(&pending_overflow, 0, sizeof(pending_overflow));
}

/* The transaction's counts go to shared memory as it commits (no catalog access here). */
void
transaction_callback(XactEvent event, void *arg)
{
	if (event == XACT_EVENT_COMMIT || event == XACT_EVENT_PREPARE || event == XACT_EVENT_ABORT)
		roles_set = 0;
	switch (event) {
	case XACT_EVENT_COMMIT:
	case XACT_EVENT_PREPARE: {
		if (npending == 0 && pending_overflow.ts == 0)
			return;
		TimestampTz now = GetCurrentTimestamp();
		for (int i = 0; i < npending; i++) {
			pending[i].ts = now;
			pending[i].prepared = event == XACT_EVENT_PREPARE;
		}
		pending_overflow.prepared = event == XACT_EVENT_PREPARE;
		bypass_store_add(pending, npending);
		if (pending_overflow.ts != 0) {
			pending_overflow.ts = now;
			bypass_store_add(&pending_overflow, 1);
		}
		clear_pending();
		break;
	}
	case XACT_EVENT_ABORT:
		clear_pending();
		break;
	default:
		break;
	}
}

} // namespace

extern "C" {

static void
fkg_bypass_ExecutorEnd(QueryDesc *query)
{
	invoke([&]() {
		executor_end(query);
		return (Datum) 0;
	});
}

static void
fkg_bypass_ProcessUtility(PlannedStmt *pstmt, const char *query_string, bool read_only_tree,
                          ProcessUtilityContext context, ParamListInfo params, QueryEnvironment *query_env,
                          DestReceiver *dest, QueryCompletion *qc)
{
	invoke([&]() {
		process_utility(pstmt, query_string, read_only_tree, context, params, query_env, dest, qc);
		return (Datum) 0;
	});
}

static void
fkg_bypass_transaction_callback(XactEvent event, void *arg)
{
	invoke_quietly([&]() { transaction_callback(event, arg); });
}

static void
fkg_bypass_role_assign(int newval, void *extra)
{
	/* SessionReplicationRole still holds the value being replaced.  An assign
	 * hook must not fail: through the boundary's quiet side, like the
	 * transaction callback. */
	invoke_quietly([&]() {
		if (IsTransactionState() && newval >= 0 && newval < 31 && SessionReplicationRole >= 0 &&
		    SessionReplicationRole < 31)
			roles_set |= (1 << SessionReplicationRole) | (1 << newval);
		if (prev_role_assign)
			prev_role_assign(newval, extra);
	});
}
}

void
bypass_capture_install()
{
	prev_executor_end = ExecutorEnd_hook;
	ExecutorEnd_hook = fkg_bypass_ExecutorEnd;
	prev_process_utility = ProcessUtility_hook;
	ProcessUtility_hook = fkg_bypass_ProcessUtility;
	RegisterXactCallback(fkg_bypass_transaction_callback, nullptr);
	struct config_generic *role = compat::find_setting("session_replication_role");
	if (role == nullptr || role->vartype != PGC_ENUM)
		elog(ERROR, "fk_guard: setting session_replication_role not found");
	struct config_enum *role_enum = (struct config_enum *) role;
	prev_role_assign = role_enum->assign_hook;
	role_enum->assign_hook = fkg_bypass_role_assign;
}

} // namespace fkg
