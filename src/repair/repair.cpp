/*
 * repair.cpp
 *    fk_repair_prepare(): the checked statements of one fk_repair() step.
 *
 * fk_repair() is PL/pgSQL (fk_guard--1.7.sql): a procedure that commits
 * between batches cannot have a SET clause, so it calls functions that pin
 * search_path, and each batch asks this function for its statement again, so
 * that it is built from the catalogs as they are when the batch runs.
 *
 * Whose rights: a repair is DML the caller asks for, so its statements run
 * as the caller (not as the table's owner, as fk_orphans' queries do), and
 * PostgreSQL checks the caller's privileges as for a hand-written DELETE.
 * fk_guard must not make the caller run code of another role that a plain
 * DELETE would not run: the orphan predicate calls the constraint's equality
 * operators and casts, and the rows and keys are rendered as jsonb (through
 * any cast to json a column's type has), so each of those functions must be
 * a superuser's or the caller's own.  Names are qualified and search_path is
 * pinned.
 *
 * Concurrency: before a batch runs, the referenced table (each partition of
 * it) is locked in SHARE mode, as ADD FOREIGN KEY locks it (SHARE ROW
 * EXCLUSIVE): the lock waits for transactions that are inserting or changing
 * referenced rows, within lock_timeout, and holds new ones off until the
 * batch commits, so the batch's snapshot, taken after it, sees every parent
 * that exists while the batch changes rows.  That needs a snapshot per
 * statement: executing is refused at REPEATABLE READ and SERIALIZABLE.
 */
#include "common/owner_identity.h"
#include "common/pg_boundary.h"
#include "orphans/fk_catalog.h"
#include "repair/repair_query.h"

extern "C" {
#include "access/htup_details.h"
#include "access/xact.h"
#include "catalog/pg_class.h"
#include "catalog/pg_inherits.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "storage/lmgr.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/lsyscache.h"
#include "utils/syscache.h"
}

namespace {

/* Runs a catalog query with the constraint's OID as $1 and returns its one
 * text value (NULL when it is NULL). */
const char *
constraint_fact(const char *sql, Oid constraint_oid)
{
	Oid argtypes[1] = {OIDOID};
	Datum values[1] = {ObjectIdGetDatum(constraint_oid)};
	int rc = SPI_execute_with_args(sql, 1, argtypes, values, nullptr, true, 1);
	if (rc != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "fk_guard: catalog query failed: %s", SPI_result_code_string(rc));
	return SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
}

/* The functions a repair's statements would call that belong to a role other
 * than the caller and the superusers, listed, or NULL: the constraint's
 * equality operators and the casts of the key columns to their input types
 * (the orphan predicate), and casts to json or jsonb of any type a column of
 * the referencing table is built from (to_jsonb() and jsonb_build_object()
 * render the rows and keys with them). */
const char *const kForeignCodeQuery = R"SQL(
WITH RECURSIVE keys AS (
    SELECT o.oid AS opr, o.oprleft, o.oprright, o.oprcode, fa.atttypid AS fk_type, pa.atttypid AS pk_type
      FROM pg_catalog.pg_constraint c
     CROSS JOIN LATERAL unnest(c.conpfeqop, c.conkey, c.confkey) k(opr, fk_att, pk_att)
      JOIN pg_catalog.pg_operator o ON o.oid = k.opr
      JOIN pg_catalog.pg_attribute fa ON fa.attrelid = c.conrelid AND fa.attnum = k.fk_att
      JOIN pg_catalog.pg_attribute pa ON pa.attrelid = c.confrelid AND pa.attnum = k.pk_att
     WHERE c.oid = $1),
types(t) AS (
    SELECT a.atttypid FROM pg_catalog.pg_constraint c
      JOIN pg_catalog.pg_attribute a ON a.attrelid = c.conrelid AND a.attnum > 0 AND NOT a.attisdropped
     WHERE c.oid = $1
    UNION
    SELECT x.t FROM types JOIN pg_catalog.pg_type ty ON ty.oid = types.t
     CROSS JOIN LATERAL (SELECT ty.typelem WHERE ty.typelem <> 0
                         UNION ALL SELECT ty.typbasetype WHERE ty.typtype = 'd'
                         UNION ALL SELECT a.atttypid FROM pg_catalog.pg_attribute a
                                    WHERE ty.typrelid <> 0 AND a.attrelid = ty.typrelid AND a.attnum > 0
                                      AND NOT a.attisdropped) x(t)),
code(what, fn) AS (
    SELECT format('operator %s', opr::regoperator), oprcode FROM keys
    UNION ALL
    SELECT format('cast %s AS %s', ca.castsource::regtype, ca.casttarget::regtype), ca.castfunc
      FROM keys JOIN pg_catalog.pg_cast ca
        ON (ca.castsource = keys.fk_type AND ca.casttarget = keys.oprright)
        OR (ca.castsource = keys.pk_type AND ca.casttarget = keys.oprleft)
    UNION ALL
    SELECT format('cast %s AS %s', ca.castsource::regtype, ca.casttarget::regtype), ca.castfunc
      FROM types JOIN pg_catalog.pg_cast ca
        ON ca.castsource = types.t AND ca.casttarget IN ('pg_catalog.json'::regtype, 'pg_catalog.jsonb'::regtype))
SELECT string_agg(DISTINCT format('%s (owned by %s)', code.what, r.rolname), ', ')
  FROM code
  JOIN pg_catalog.pg_proc p ON p.oid = code.fn
  JOIN pg_catalog.pg_roles r ON r.oid = p.proowner
 WHERE NOT r.rolsuper AND r.rolname <> current_user)SQL";

/* set_null: the foreign-key columns that are NOT NULL (under MATCH SIMPLE only
 * when every one is: one NULL column is enough there), or NULL. */
const char *const kNotNullKeyColumnsQuery = R"SQL(
SELECT string_agg(quote_ident(a.attname), ', ' ORDER BY k.n)
  FROM pg_catalog.pg_constraint c
  CROSS JOIN LATERAL unnest(c.conkey) WITH ORDINALITY k(attnum, n)
  JOIN pg_catalog.pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.attnum
 WHERE c.oid = $1 AND a.attnotnull
   AND (c.confmatchtype = 'f' OR NOT EXISTS (
        SELECT FROM unnest(c.conkey) n(attnum)
          JOIN pg_catalog.pg_attribute na ON na.attrelid = c.conrelid AND na.attnum = n.attnum
         WHERE NOT na.attnotnull)))SQL";

/* set_null: the foreign-key columns that are NOT NULL, as bits (bit i: key column i). */
const char *const kNotNullKeyMaskQuery = R"SQL(
SELECT COALESCE(pg_catalog.sum(1::bigint << (k.n - 1)::integer), 0)::text
  FROM pg_catalog.pg_constraint c
  CROSS JOIN LATERAL unnest(c.conkey) WITH ORDINALITY k(attnum, n)
  JOIN pg_catalog.pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.attnum
 WHERE c.oid = $1 AND a.attnotnull)SQL";

/* insert_parents: the referenced table's other columns that need a value
 * the placeholder row cannot give (NOT NULL, no default), or NULL. */
const char *const kRequiredParentColumnsQuery = R"SQL(
SELECT string_agg(quote_ident(a.attname), ', ' ORDER BY a.attnum)
  FROM pg_catalog.pg_constraint c
  JOIN pg_catalog.pg_attribute a ON a.attrelid = c.confrelid
 WHERE c.oid = $1 AND a.attnum > 0 AND NOT a.attisdropped AND a.attnotnull AND NOT a.atthasdef
   AND a.attidentity = '' AND a.attgenerated = '' AND a.attnum <> ALL (c.confkey))SQL";

/* Whether the caller holds what the action's DML needs (true/false). */
const char *const kDeletePrivilegeQuery =
	"SELECT pg_catalog.has_table_privilege(c.conrelid, 'DELETE') FROM pg_catalog.pg_constraint c WHERE c.oid = $1";
const char *const kUpdatePrivilegeQuery = R"SQL(
SELECT bool_and(pg_catalog.has_column_privilege(c.conrelid, k.attnum, 'UPDATE'))
  FROM pg_catalog.pg_constraint c CROSS JOIN LATERAL unnest(c.conkey) k(attnum) WHERE c.oid = $1)SQL";
const char *const kInsertPrivilegeQuery = R"SQL(
SELECT bool_and(pg_catalog.has_column_privilege(c.confrelid, k.attnum, 'INSERT'))
  FROM pg_catalog.pg_constraint c CROSS JOIN LATERAL unnest(c.confkey) k(attnum) WHERE c.oid = $1)SQL";

const fkg::DeclaredForeignKey *
find_foreign_key(Oid child, const char *name)
{
	int count = 0;
	const fkg::DeclaredForeignKey *keys = fkg::load_declared_foreign_keys(child, &count);
	for (int i = 0; i < count; i++)
		if (strcmp(keys[i].spec.constraint_name, name) == 0)
			return &keys[i];
	ereport(ERROR, (errcode(ERRCODE_UNDEFINED_OBJECT),
	                errmsg("foreign key \"%s\" of table %s does not exist", name,
	                       DatumGetCString(DirectFunctionCall1(regclassout, ObjectIdGetDatum(child)))),
	                errhint("fk_audit lists the declared foreign keys of each table; pass the table the foreign key "
	                        "is declared on (or one of its partitions).")));
	pg_unreachable();
}

/* Raises PostgreSQL's permission error unless the caller may run the action's DML. */
void
require_dml_privilege(const fkg::DeclaredForeignKey &fk, fkg::RepairAction action)
{
	const char *sql = action == fkg::RepairAction::kInsertParents ? kInsertPrivilegeQuery
	                  : action == fkg::RepairAction::kSetNull     ? kUpdatePrivilegeQuery
	                                                              : kDeletePrivilegeQuery;
	const char *allowed = constraint_fact(sql, fk.spec.constraint_oid);
	if (allowed == nullptr || strcmp(allowed, "t") != 0)
		aclcheck_error(ACLCHECK_NO_PRIV, OBJECT_TABLE,
		               action == fkg::RepairAction::kInsertParents ? fk.spec.parent_relation.name
		                                                           : fk.spec.scan_relation.name);
}

/* The refusals that depend on the action and on whose operators the predicate calls. */
void
require_repairable(const fkg::DeclaredForeignKey &fk, fkg::RepairAction action)
{
	const fkg::ForeignKeySpec &spec = fk.spec;
	/* Batches locate rows by ctid, which Citus does not route to a shard. */
	if (spec.citus_child || spec.citus_parent)
		ereport(ERROR, (errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
		                errmsg("fk_repair does not repair foreign keys of Citus tables"),
		                errdetail("Foreign key \"%s\" is on or references a Citus table.", spec.constraint_name),
		                errhint("fk_orphans_located() lists the orphans with their shards.")));
	if (const char *code = constraint_fact(kForeignCodeQuery, spec.constraint_oid))
		ereport(ERROR, (errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
		                errmsg("fk_repair will not run another role's functions with the rights of role \"%s\"",
		                       GetUserNameFromId(GetUserId(), false)),
		                errdetail("Repairing foreign key \"%s\" calls %s.", spec.constraint_name, code),
		                errhint("Run the repair connected as that role.")));
	if (action == fkg::RepairAction::kSetNull) {
		if (const char *columns = constraint_fact(kNotNullKeyColumnsQuery, spec.constraint_oid))
			ereport(ERROR, (errcode(ERRCODE_NOT_NULL_VIOLATION),
			                errmsg("fk_repair cannot set_null foreign key \"%s\": column(s) %s of %s are NOT NULL",
			                       spec.constraint_name, columns, fkg::relation_name(spec.scan_relation)),
			                errhint("Use action 'quarantine', 'delete' or 'insert_parents'.")));
	}
	if (action == fkg::RepairAction::kInsertParents) {
		if (const char *columns = constraint_fact(kRequiredParentColumnsQuery, spec.constraint_oid))
			ereport(ERROR,
			        (errcode(ERRCODE_NOT_NULL_VIOLATION),
			         errmsg("fk_repair cannot insert_parents for foreign key \"%s\": column(s) %s of %s are NOT NULL "
			                "without a default",
			                spec.constraint_name, columns, fkg::relation_name(spec.parent_relation)),
			         errhint("Give those columns defaults, insert the parents yourself, or use action 'quarantine'.")));
	}
}

/* SHARE on the referenced table and each of its partitions (see the header comment). */
void
lock_referenced(const fkg::ForeignKeySpec &spec)
{
	LockRelationOid(spec.parent_relid, ShareLock);
	if (spec.parent_partitioned)
		(void) find_all_inheritors(spec.parent_relid, ShareLock, nullptr);
}

/* The foreign key name of child, checked for the action (SPI connected): the
 * caller may see its orphans and, for_execute, change them; lock (with
 * for_execute) locks the referenced table for the batch about to run. */
const fkg::DeclaredForeignKey *
checked_foreign_key(Oid child, const char *name, fkg::RepairAction action, bool for_execute, bool lock)
{
	fkg::check_target_is_table(child);
	/* Under REPEATABLE READ or SERIALIZABLE a batch's statements read the
	 * transaction's snapshot, taken before the referenced table was locked:
	 * a parent committed while the batch waited for that lock would be
	 * missed and its children changed as orphans. */
	if (for_execute && IsolationUsesXactSnapshot())
		ereport(ERROR, (errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
		                errmsg("fk_repair changes rows only at isolation level READ COMMITTED"),
		                errdetail("At %s a batch would not see parents committed while it waited to lock the "
		                          "referenced table.",
		                          IsolationIsSerializable() ? "SERIALIZABLE" : "REPEATABLE READ"),
		                errhint("Run it in a READ COMMITTED transaction; a dry run works at any level.")));

	/* The facts are read again once the tables are locked (renames,
	 * policies and ALTERs need stronger locks than these). */
	const fkg::DeclaredForeignKey *fk = find_foreign_key(child, name);
	LockRelationOid(fk->spec.scan_relid, AccessShareLock);
	if (lock) {
		/* Checked before the lock is taken: only a role that may make the
		 * change holds off writers to the referenced table. */
		if (fk->checkable())
			require_dml_privilege(*fk, action);
		lock_referenced(fk->spec);
	} else
		LockRelationOid(fk->spec.parent_relid, AccessShareLock);
	fk = find_foreign_key(child, name);
	if (!fk->checkable())
		fkg::raise_refusal(*fk);
	if (for_execute)
		require_dml_privilege(*fk, action);
	require_repairable(*fk, action);
	return fk;
}

} // namespace

/*
 * fk_repair_prepare(constraint_name name, child_table regclass, action text,
 *                   batch_size integer, for_execute boolean, lock_referenced boolean)
 *   -> (constraint_oid oid, parent_table regclass, validated boolean,
 *       batch_statement text, progress_query text, keys_query text, count_query text)
 *
 * Checks everything a repair needs (the foreign key, the action, the caller's
 * right to see the orphans and, for_execute, to change them) and returns its
 * statements.  lock_referenced (with for_execute) locks the referenced table
 * for the batch about to run.
 */
FKG_FUNCTION(fk_repair_prepare)
{
	TupleDesc desc;
	if (PG_NARGS() != 6 || get_call_result_type(fcinfo, nullptr, &desc) != TYPEFUNC_COMPOSITE || desc->natts != 7)
		ereport(ERROR, (errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
		                errmsg("fk_repair_prepare's SQL definition does not match the fk_guard library"),
		                errhint("Run ALTER EXTENSION fk_guard UPDATE.")));
	if (PG_ARGISNULL(0) || PG_ARGISNULL(1) || PG_ARGISNULL(2))
		ereport(ERROR, (errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
		                errmsg("constraint_name, child_table and action must not be NULL")));
	const char *name = NameStr(*PG_GETARG_NAME(0));
	Oid child = PG_GETARG_OID(1);
	const char *action_name = text_to_cstring(PG_GETARG_TEXT_PP(2));
	fkg::RepairAction action;
	if (!fkg::parse_repair_action(action_name, &action))
		ereport(ERROR,
		        (errcode(ERRCODE_INVALID_PARAMETER_VALUE), errmsg("unknown fk_repair action \"%s\"", action_name),
		         errhint("The actions are quarantine, delete, set_null and insert_parents.")));
	if (PG_ARGISNULL(3) || PG_GETARG_INT32(3) <= 0)
		ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE), errmsg("batch_size must be greater than zero")));
	int32 batch_size = PG_GETARG_INT32(3);
	bool for_execute = !PG_ARGISNULL(4) && PG_GETARG_BOOL(4);
	bool lock = for_execute && !PG_ARGISNULL(5) && PG_GETARG_BOOL(5);

	MemoryContext outer = CurrentMemoryContext;
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "fk_guard: SPI_connect failed");
	const fkg::DeclaredForeignKey *fk = checked_foreign_key(child, name, action, for_execute, lock);
	uint32 not_null_keys = 0;
	if (action == fkg::RepairAction::kSetNull)
		not_null_keys = (uint32) strtoul(constraint_fact(kNotNullKeyMaskQuery, fk->spec.constraint_oid), nullptr, 10);

	/* Each std::string temporary dies before anything that may longjmp runs (pg_boundary.h, rule 3). */
	MemoryContext inner = MemoryContextSwitchTo(outer);
	char *batch_statement = fkg::to_palloc(fkg::repair_batch_statement(fk->spec, action, batch_size, not_null_keys));
	char *keys_query = fkg::to_palloc(fkg::repair_keys_query(fk->spec));
	char *count_query = fkg::to_palloc(fkg::repair_count_query(fk->spec, action));
	char *progress_query = fkg::to_palloc(fkg::repair_progress_query(fk->spec));
	Datum values[7] = {ObjectIdGetDatum(fk->spec.constraint_oid), ObjectIdGetDatum(fk->spec.parent_relid),
	                   BoolGetDatum(fk->spec.validated),          CStringGetTextDatum(batch_statement),
	                   CStringGetTextDatum(progress_query),       CStringGetTextDatum(keys_query),
	                   CStringGetTextDatum(count_query)};
	bool nulls[7] = {false, false, false, false, false, false, false};
	HeapTuple tuple = heap_form_tuple(BlessTupleDesc(desc), values, nulls);
	MemoryContextSwitchTo(inner);
	SPI_finish();
	return HeapTupleGetDatum(tuple);
}

/* fk_repair_can_commit(): whether the procedure calling it may commit: it was
 * called by CALL outside a transaction block and outside any function, so
 * that its SPI connection (the current one: this function connects none) is
 * not atomic. */
FKG_FUNCTION(fk_repair_can_commit)
{
	return BoolGetDatum(SPI_inside_nonatomic_context() && !IsTransactionBlock());
}

/*
 * fk_repair_quarantine_batch(repair bigint, resume_table oid, resume tid,
 *                            OUT moved bigint, OUT found bigint, OUT reached_table oid, OUT reached tid)
 *
 * One batch of a running quarantine repair of this session: deletes the
 * orphans as the caller, with the statement fk_repair_prepare() builds from
 * the catalogs, and stores the rows it deleted in fk_guard_quarantine as the
 * owner of that table.  Other roles cannot insert there: a row in the
 * quarantine was deleted by a repair, and fk_restore() (which a superuser may
 * run) puts back only what was taken out.
 */
FKG_FUNCTION(fk_repair_quarantine_batch)
{
	TupleDesc desc;
	if (PG_NARGS() != 3 || get_call_result_type(fcinfo, nullptr, &desc) != TYPEFUNC_COMPOSITE || desc->natts != 4)
		ereport(ERROR, (errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
		                errmsg("fk_repair_quarantine_batch's SQL definition does not match the fk_guard library"),
		                errhint("Run ALTER EXTENSION fk_guard UPDATE.")));
	if (PG_ARGISNULL(0) || PG_ARGISNULL(1) || PG_ARGISNULL(2))
		ereport(ERROR,
		        (errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED), errmsg("repair, resume_table and resume must not be NULL")));
	int64 repair = PG_GETARG_INT64(0);
	Datum resume_table = PG_GETARG_DATUM(1);
	Datum resume = PG_GETARG_DATUM(2);
	Oid schema = get_func_namespace(fcinfo->flinfo->fn_oid);
	const char *quoted_schema = quote_identifier(get_namespace_name(schema));
	Oid quarantine = get_relname_relid("fk_guard_quarantine", schema);
	HeapTuple classtup = SearchSysCache1(RELOID, ObjectIdGetDatum(quarantine));
	if (!HeapTupleIsValid(classtup))
		elog(ERROR, "fk_guard: table fk_guard_quarantine is missing");
	Oid quarantine_owner = ((Form_pg_class) GETSTRUCT(classtup))->relowner;
	ReleaseSysCache(classtup);
	Oid caller = GetUserId();

	MemoryContext outer = CurrentMemoryContext;
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "fk_guard: SPI_connect failed");

	/* The repair, read as the caller: its own running quarantine repair. */
	Oid repair_type[1] = {INT8OID};
	Datum repair_value[1] = {Int64GetDatum(repair)};
	int rc = SPI_execute_with_args(psprintf("SELECT r.constraint_name, r.child_table::pg_catalog.oid, r.batch_size "
	                                        "FROM %s.fk_guard_repairs r WHERE r.repair_id = $1 "
	                                        "AND r.status = 'running' AND r.action = 'quarantine' "
	                                        "AND r.repaired_by = CURRENT_USER "
	                                        "AND r.backend_pid = pg_catalog.pg_backend_pid()",
	                                        quoted_schema),
	                               1, repair_type, repair_value, nullptr, true, 1);
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "fk_guard: reading repair failed: %s", SPI_result_code_string(rc));
	if (SPI_processed != 1)
		ereport(ERROR, (errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
		                errmsg("repair " INT64_FORMAT " is not a quarantine running in this session", repair)));
	bool isnull;
	HeapTuple row = SPI_tuptable->vals[0];
	TupleDesc rowdesc = SPI_tuptable->tupdesc;
	const char *name = pstrdup(NameStr(*DatumGetName(SPI_getbinval(row, rowdesc, 1, &isnull))));
	Oid child = DatumGetObjectId(SPI_getbinval(row, rowdesc, 2, &isnull));
	int32 batch_size = DatumGetInt32(SPI_getbinval(row, rowdesc, 3, &isnull));

	const fkg::DeclaredForeignKey *fk = checked_foreign_key(child, name, fkg::RepairAction::kQuarantine, true, true);
	char *statement = fkg::to_palloc(fkg::repair_batch_statement(fk->spec, fkg::RepairAction::kQuarantine, batch_size));

	/* The DELETE, as the caller (PostgreSQL checks its privileges). */
	Oid resume_types[2] = {OIDOID, TIDOID};
	Datum resume_values[2] = {resume_table, resume};
	rc = SPI_execute_with_args(statement, 2, resume_types, resume_values, nullptr, false, 0);
	if (rc != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "fk_guard: quarantine batch failed: %s", SPI_result_code_string(rc));
	bool moved_null, found_null, reached_table_null, reached_null;
	Datum moved = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &moved_null);
	int64 found = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &found_null));
	Datum reached_table = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 3, &reached_table_null);
	Datum reached = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 4, &reached_null);
	int64 count = 0;
	if (!moved_null) {
		/* The rows it deleted, stored as the quarantine's owner. */
		Oid store_types[4] = {INT8OID, NAMEOID, OIDOID, JSONBOID};
		Datum store_values[4] = {Int64GetDatum(repair), CStringGetDatum(name), ObjectIdGetDatum(child), moved};
		NameData stored_name;
		namestrcpy(&stored_name, name);
		store_values[1] = NameGetDatum(&stored_name);
		const char *caller_name = quote_literal_cstr(GetUserNameFromId(caller, false));
		const char *store = psprintf(
			"INSERT INTO %s.fk_guard_quarantine (repair_id, constraint_name, child_table, row_data, row_text, key, "
			"reason, quarantined_by) "
			"SELECT $1, $2, $3::pg_catalog.regclass, m -> 'row', m ->> 'text', m -> 'key', "
			"pg_catalog.format('no row of %%s has this key (foreign key %%I)', c.confrelid::pg_catalog.regclass, $2), "
			"%s FROM pg_catalog.jsonb_array_elements($4) m, pg_catalog.pg_constraint c WHERE c.oid = %u",
			quoted_schema, caller_name, fk->spec.constraint_oid);
		fkg::SavedIdentity saved = fkg::become_owner(quarantine_owner);
		rc = SPI_execute_with_args(store, 4, store_types, store_values, nullptr, false, 0);
		if (rc != SPI_OK_INSERT)
			elog(ERROR, "fk_guard: storing quarantined rows failed: %s", SPI_result_code_string(rc));
		count = (int64) SPI_processed;
		fkg::restore_identity(saved);
	}

	MemoryContext inner = MemoryContextSwitchTo(outer);
	Datum values[4] = {Int64GetDatum(count), Int64GetDatum(found), reached_table,
	                   reached_null ? (Datum) 0 : datumCopy(reached, false, sizeof(ItemPointerData))};
	bool nulls[4] = {false, false, reached_table_null, reached_null};
	HeapTuple tuple = heap_form_tuple(BlessTupleDesc(desc), values, nulls);
	MemoryContextSwitchTo(inner);
	SPI_finish();
	return HeapTupleGetDatum(tuple);
}
