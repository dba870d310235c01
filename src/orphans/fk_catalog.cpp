/*
 * fk_catalog.cpp
 *    Declared foreign keys, their key columns and operators, read through SPI.
 *
 * Only declared constraints are returned (pg_constraint.conparentid = 0): the
 * clones PostgreSQL creates on partitions of either side are covered by
 * scanning the declared tables with their partitions, as RI_Initial_Check does.
 */
#include "orphans/fk_catalog.h"

#include "common/compat.h"
#include "common/guc.h"
#include "citus/citus_catalog.h"

extern "C" {
#include "catalog/pg_class.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "lib/stringinfo.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
}

namespace fkg {

static_assert(kMaxKeyColumns == INDEX_MAX_KEYS, "a key spec holds any foreign key's columns");

/* One row per key column.  Casts and COLLATE follow ri_GenerateQual and
 * ri_GenerateQualCollation: cast a column to the operator's input type when
 * they differ, and compare under the referenced column's collation when the
 * two collations differ (the one RI compares under either way, hence the one
 * whose determinism counts).  The privilege columns say what the caller may see
 * (checked as the caller) and whether the referencing table's owner, who runs
 * the check (as RI_Initial_Check runs as the validating owner), may read the
 * referenced key.  Every name is qualified: this runs with the caller's
 * search_path pinned by the function's SET clause. */
static const char *const kForeignKeyColumnsQuery = R"SQL(
SELECT c.oid, c.conname,
       s.oid, sn.nspname, s.relname, s.relkind = 'p',
       p.oid, pn.nspname, p.relname, p.relkind = 'p',
       c.confmatchtype = 'f', c.convalidated,
       fa.attname, pa.attname,
       opn.nspname, o.oprname,
       CASE WHEN pa.atttypid <> o.oprleft THEN ltn.nspname END,
       CASE WHEN pa.atttypid <> o.oprleft THEN lt.typname END,
       CASE WHEN fa.atttypid <> o.oprright THEN rtn.nspname END,
       CASE WHEN fa.atttypid <> o.oprright THEN rt.typname END,
       CASE WHEN pa.attcollation <> fa.attcollation THEN colln.nspname END,
       CASE WHEN pa.attcollation <> fa.attcollation THEN coll.collname END,
       NOT COALESCE(coll.collisdeterministic, true),
       -- RI_FKey_check compares the column, under its collation, with a
       -- parameter of the referencing type, under that type's (C for name):
       -- two different non-default implicit collations, for which the check
       -- raises 42P22 whenever it evaluates that comparison.
       pa.attcollation NOT IN (0, 100) AND ft.typcollation NOT IN (0, 100) AND pa.attcollation <> ft.typcollation,
       s.relowner,
       pg_catalog.has_schema_privilege(sn.oid, 'USAGE'),
       pg_catalog.has_schema_privilege(pn.oid, 'USAGE'),
       pg_catalog.has_table_privilege(s.oid, 'SELECT'),
       pg_catalog.has_column_privilege(p.oid, pa.attnum, 'SELECT'),
       pg_catalog.row_security_active(s.oid),
       pg_catalog.row_security_active(p.oid),
       pg_catalog.pg_is_other_temp_schema(s.relnamespace) OR pg_catalog.pg_is_other_temp_schema(p.relnamespace),
       -- (pg_partition_tree() of a table that is not partitioned is empty)
       CASE WHEN pg_catalog.pg_is_in_recovery() THEN EXISTS (
           SELECT FROM pg_catalog.pg_class r
            WHERE r.relpersistence = 'u'
              AND (r.oid IN (s.oid, p.oid)
                   OR r.oid IN (SELECT t.relid FROM pg_catalog.pg_partition_tree(s.oid) t)
                   OR r.oid IN (SELECT t.relid FROM pg_catalog.pg_partition_tree(p.oid) t))) ELSE false END,
       pg_catalog.has_schema_privilege(s.relowner, sn.oid, 'USAGE')
         AND pg_catalog.has_schema_privilege(s.relowner, pn.oid, 'USAGE')
         AND pg_catalog.has_table_privilege(s.relowner, s.oid, 'SELECT')
         AND pg_catalog.has_column_privilege(s.relowner, p.oid, pa.attnum, 'SELECT')
         AND NOT (p.relrowsecurity AND NOT pg_catalog.pg_has_role(s.relowner, p.relowner, 'USAGE')
                  AND NOT EXISTS (SELECT FROM pg_catalog.pg_roles ro
                                   WHERE ro.oid = s.relowner AND (ro.rolsuper OR ro.rolbypassrls))),
       )SQL" FKG_SQL_CONPERIOD R"SQL(
  FROM pg_catalog.pg_constraint c
  CROSS JOIN LATERAL (
      SELECT COALESCE($1, c.conrelid) AS relid
      UNION ALL
      -- Partitions left detach-pending by an interrupted DETACH ... CONCURRENTLY:
      -- a query on the partitioned table skips them, but PostgreSQL still checks
      -- every row written into them against the foreign key.  Each is scanned
      -- on its own (with its partitions).
      (WITH RECURSIVE tree(relid, pending) AS (
           SELECT COALESCE($1, c.conrelid), false
           UNION ALL
           SELECT i.inhrelid, i.inhdetachpending
             FROM pg_catalog.pg_inherits i JOIN tree t ON i.inhparent = t.relid
            WHERE NOT t.pending)
       SELECT relid FROM tree WHERE pending)) AS scan
  JOIN pg_catalog.pg_class s ON s.oid = scan.relid
  JOIN pg_catalog.pg_namespace sn ON sn.oid = s.relnamespace
  JOIN pg_catalog.pg_class p ON p.oid = c.confrelid
  JOIN pg_catalog.pg_namespace pn ON pn.oid = p.relnamespace
  CROSS JOIN LATERAL ROWS FROM (pg_catalog.unnest(c.conkey), pg_catalog.unnest(c.confkey),
                                pg_catalog.unnest(c.conpfeqop))
       WITH ORDINALITY AS k(fkattnum, pkattnum, eqop, n)
  JOIN pg_catalog.pg_attribute fa ON fa.attrelid = c.conrelid AND fa.attnum = k.fkattnum
  JOIN pg_catalog.pg_attribute pa ON pa.attrelid = c.confrelid AND pa.attnum = k.pkattnum
  JOIN pg_catalog.pg_operator o ON o.oid = k.eqop
  JOIN pg_catalog.pg_namespace opn ON opn.oid = o.oprnamespace
  JOIN pg_catalog.pg_type lt ON lt.oid = o.oprleft
  JOIN pg_catalog.pg_namespace ltn ON ltn.oid = lt.typnamespace
  JOIN pg_catalog.pg_type rt ON rt.oid = o.oprright
  JOIN pg_catalog.pg_type ft ON ft.oid = fa.atttypid
  JOIN pg_catalog.pg_namespace rtn ON rtn.oid = rt.typnamespace
  LEFT JOIN pg_catalog.pg_collation coll ON coll.oid = pa.attcollation
  LEFT JOIN pg_catalog.pg_namespace colln ON colln.oid = coll.collnamespace
 WHERE c.contype = 'f' AND c.conparentid = 0
   -- Extension members' keys (pg_depend 'e') only when asked for: $2, or a target.
   AND ($1 IS NOT NULL OR $2 OR NOT EXISTS (
        SELECT FROM pg_catalog.pg_depend e
         WHERE e.classid = 'pg_catalog.pg_class'::pg_catalog.regclass AND e.objid = c.conrelid
           AND e.objsubid = 0 AND e.deptype = 'e'))
   AND ($1 IS NULL OR c.conrelid IN (
        -- $1 and the partitioned tables above it, through detach-pending
        -- links too (pg_partition_ancestors stops at those)
        WITH RECURSIVE up(relid) AS (
            SELECT $1
            UNION ALL
            SELECT i.inhparent FROM pg_catalog.pg_inherits i
              JOIN up ON i.inhrelid = up.relid
              JOIN pg_catalog.pg_class a ON a.oid = i.inhparent AND a.relkind = 'p')
        SELECT relid FROM up))
 ORDER BY sn.nspname COLLATE "C", s.relname COLLATE "C", c.conname COLLATE "C", c.oid, k.n
)SQL";

enum Column {
	kConstraintOid = 1,
	kConstraintName,
	kScanRelid,
	kScanSchema,
	kScanName,
	kScanPartitioned,
	kParentRelid,
	kParentSchema,
	kParentName,
	kParentPartitioned,
	kMatchFull,
	kValidated,
	kFkColumn,
	kPkColumn,
	kOperatorSchema,
	kOperatorName,
	kPkCastSchema,
	kPkCastName,
	kFkCastSchema,
	kFkCastName,
	kCollationSchema,
	kCollationName,
	kNondeterministic,
	kCollationConflict,
	kChildOwner,
	kChildSchemaUsage,
	kParentSchemaUsage,
	kChildPrivileged,
	kParentPrivileged,
	kChildRowSecurity,
	kParentRowSecurity,
	kOtherSessionTemp,
	kUnloggedInRecovery,
	kOwnerReadsParent,
	kTemporal,
};

static Oid
oid_at(HeapTuple row, TupleDesc desc, int column)
{
	bool isnull;
	Datum value = SPI_getbinval(row, desc, column, &isnull);
	return isnull ? InvalidOid : DatumGetObjectId(value);
}

static bool
bool_at(HeapTuple row, TupleDesc desc, int column)
{
	bool isnull;
	Datum value = SPI_getbinval(row, desc, column, &isnull);
	return !isnull && DatumGetBool(value);
}

static QualifiedName
name_at(HeapTuple row, TupleDesc desc, int schema_column, int name_column)
{
	return QualifiedName{SPI_getvalue(row, desc, schema_column), SPI_getvalue(row, desc, name_column)};
}

/* The first reason, in Refusal's order, that one key-column row gives. */
static Refusal
refusal_of_row(HeapTuple row, TupleDesc desc)
{
	static const struct {
		int column;
		bool refuses_when;
		Refusal refusal;
	} kChecks[] = {
		{kTemporal, true, Refusal::kTemporal},
		{kOtherSessionTemp, true, Refusal::kOtherSessionTemp},
		{kUnloggedInRecovery, true, Refusal::kUnloggedInRecovery},
		{kChildSchemaUsage, false, Refusal::kChildSchemaUsage},
		{kParentSchemaUsage, false, Refusal::kParentSchemaUsage},
		{kChildPrivileged, false, Refusal::kChildPrivilege},
		{kParentPrivileged, false, Refusal::kParentPrivilege},
		{kChildRowSecurity, true, Refusal::kChildRowSecurity},
		{kParentRowSecurity, true, Refusal::kParentRowSecurity},
		{kOwnerReadsParent, false, Refusal::kOwnerCannotReadParent},
	};
	for (const auto &check : kChecks)
		if (bool_at(row, desc, check.column) == check.refuses_when)
			return check.refusal;
	return Refusal::kNone;
}

void
check_target_is_table(Oid target)
{
	if (!OidIsValid(target))
		ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE), errmsg("target must name a table"),
		                errhint("Pass NULL to check every table.")));
	char relkind = get_rel_relkind(target);
	if (relkind == '\0')
		ereport(ERROR, (errcode(ERRCODE_UNDEFINED_TABLE), errmsg("relation with OID %u does not exist", target)));
	if (relkind != RELKIND_RELATION && relkind != RELKIND_PARTITIONED_TABLE)
		ereport(ERROR, (errcode(ERRCODE_WRONG_OBJECT_TYPE), errmsg("\"%s\" is not a table", get_rel_name(target)),
		                errdetail("Foreign keys belong to tables and partitioned tables.")));
}

const char *
relation_name(const QualifiedName &name)
{
	return quote_qualified_identifier(name.schema, name.name);
}

const char *
refusal_reason(Refusal refusal)
{
	switch (refusal) {
	case Refusal::kNone:
		break;
	case Refusal::kTemporal:
		return "temporal foreign key: not supported";
	case Refusal::kOtherSessionTemp:
		return "temporary table of another session";
	case Refusal::kUnloggedInRecovery:
		return "unlogged table during recovery";
	case Refusal::kChildSchemaUsage:
	case Refusal::kParentSchemaUsage:
		return "no USAGE on schema";
	case Refusal::kChildPrivilege:
	case Refusal::kParentPrivilege:
		return "no SELECT";
	case Refusal::kChildRowSecurity:
	case Refusal::kParentRowSecurity:
		return "row-level security";
	case Refusal::kOwnerCannotReadParent:
		return "owner cannot read the referenced key";
	}
	return "checkable";
}

/* "a, b": the referenced columns, quoted as needed. */
static const char *
referenced_columns(const ForeignKeySpec &spec)
{
	StringInfoData list;
	initStringInfo(&list);
	for (int i = 0; i < spec.nkeys; i++)
		appendStringInfo(&list, "%s%s", i > 0 ? ", " : "", quote_identifier(spec.keys[i].pk_column));
	return list.data;
}

void
raise_refusal(const DeclaredForeignKey &fk)
{
	const ForeignKeySpec &spec = fk.spec;
	const char *child = relation_name(spec.scan_relation);
	const char *parent = relation_name(spec.parent_relation);
	switch (fk.refusal) {
	case Refusal::kNone:
		break;
	case Refusal::kTemporal:
		/* RI_FKey_check judges a PERIOD key by whether the referenced rows'
		 * periods, merged, cover the referencing row's: not the equality
		 * join fk_guard's queries are built on. */
		ereport(ERROR,
		        (errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
		         errmsg("fk_guard cannot check temporal foreign key \"%s\" on table %s", spec.constraint_name, child),
		         errdetail("Foreign keys with PERIOD are not supported: PostgreSQL checks them by range "
		                   "containment over the referenced rows' periods.")));
		pg_unreachable();
	case Refusal::kOtherSessionTemp:
		ereport(ERROR,
		        (errcode(ERRCODE_FEATURE_NOT_SUPPORTED), errmsg("cannot access temporary tables of other sessions"),
		         errdetail("Foreign key \"%s\" is on %s.", spec.constraint_name, child)));
		pg_unreachable();
	case Refusal::kUnloggedInRecovery:
		ereport(ERROR,
		        (errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
		         errmsg("cannot access temporary or unlogged relations during recovery"),
		         errdetail("Foreign key \"%s\" on %s involves an unlogged table.", spec.constraint_name, child)));
		pg_unreachable();
	case Refusal::kChildSchemaUsage:
		aclcheck_error(ACLCHECK_NO_PRIV, OBJECT_SCHEMA, spec.scan_relation.schema);
		break;
	case Refusal::kParentSchemaUsage:
		aclcheck_error(ACLCHECK_NO_PRIV, OBJECT_SCHEMA, spec.parent_relation.schema);
		break;
	case Refusal::kChildPrivilege:
		aclcheck_error(ACLCHECK_NO_PRIV, OBJECT_TABLE, spec.scan_relation.name);
		break;
	case Refusal::kParentPrivilege:
		aclcheck_error(ACLCHECK_NO_PRIV, OBJECT_TABLE, spec.parent_relation.name);
		break;
	case Refusal::kChildRowSecurity:
	case Refusal::kParentRowSecurity:
		ereport(ERROR, (errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
		                errmsg("cannot check foreign key \"%s\" on table %s", spec.constraint_name, child),
		                errdetail("Row-level security is active on table %s for the current role, so rows hidden "
		                          "by a policy would be misjudged.",
		                          fk.refusal == Refusal::kChildRowSecurity ? child : parent),
		                errhint("Run fk_guard as the table owner or as a role with BYPASSRLS.")));
		pg_unreachable();
	case Refusal::kOwnerCannotReadParent: {
		const char *owner = GetUserNameFromId(fk.checker, false);
		ereport(ERROR,
		        (errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
		         errmsg("cannot check foreign key \"%s\" on table %s", spec.constraint_name, child),
		         errdetail("fk_guard reads a table's rows as its owner, and %s's owner, role %s, may not read "
		                   "the referenced columns of %s (or row-level security hides their rows from it).",
		                   child, quote_identifier(owner), parent),
		         errhint("GRANT SELECT (%s) ON %s TO %s;", referenced_columns(spec), parent, quote_identifier(owner))));
	}
	}
	elog(ERROR, "fk_guard: foreign key \"%s\" is checkable", spec.constraint_name);
}

DeclaredForeignKey *
load_declared_foreign_keys(Oid target, int *count)
{
	Oid argtypes[2] = {OIDOID, BOOLOID};
	Datum args[2] = {ObjectIdGetDatum(target), BoolGetDatum(guc::include_extension_tables)};
	char nulls[2] = {OidIsValid(target) ? ' ' : 'n', ' '};

	int rc = SPI_execute_with_args(kForeignKeyColumnsQuery, 2, argtypes, args, nulls, true, 0);
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "fk_guard: catalog query failed: %s", SPI_result_code_string(rc));

	TupleDesc desc = SPI_tuptable->tupdesc;
	uint64 nrows = SPI_processed;
	DeclaredForeignKey *keys = static_cast<DeclaredForeignKey *>(palloc0(sizeof(DeclaredForeignKey) * (nrows + 1)));
	int nkeys = 0;
	Oid current = InvalidOid, current_scan = InvalidOid;

	/* Citus: its tables are read through its planner; on a node with its
	 * metadata, its shards' foreign keys are covered by their table's. */
	bool citus = citus::installed();
	for (uint64 r = 0; r < nrows; r++) {
		HeapTuple row = SPI_tuptable->vals[r];
		citus::Shard shard;
		if (citus && !OidIsValid(target) && citus::shard_of_relation(oid_at(row, desc, kScanRelid), &shard))
			continue;
		/* A foreign key is checked once per relation it scans: its table, and
		 * any partition of it left detach-pending. */
		Oid constraint = oid_at(row, desc, kConstraintOid);
		Oid scanned = oid_at(row, desc, kScanRelid);
		if (constraint != current || scanned != current_scan) {
			current = constraint;
			current_scan = scanned;
			DeclaredForeignKey &fk = keys[nkeys++];
			fk.spec.constraint_oid = constraint;
			fk.spec.constraint_name = SPI_getvalue(row, desc, kConstraintName);
			fk.spec.scan_relid = oid_at(row, desc, kScanRelid);
			fk.spec.scan_relation = name_at(row, desc, kScanSchema, kScanName);
			fk.spec.scan_partitioned = bool_at(row, desc, kScanPartitioned);
			fk.spec.parent_relid = oid_at(row, desc, kParentRelid);
			fk.spec.parent_relation = name_at(row, desc, kParentSchema, kParentName);
			fk.spec.parent_partitioned = bool_at(row, desc, kParentPartitioned);
			fk.spec.match_full = bool_at(row, desc, kMatchFull);
			fk.spec.validated = bool_at(row, desc, kValidated);
			fk.spec.citus_child = citus && citus::is_citus_table(fk.spec.scan_relid);
			fk.spec.citus_parent = citus && citus::is_citus_table(fk.spec.parent_relid);
			fk.checker = oid_at(row, desc, kChildOwner);
			fk.refusal = Refusal::kNone;
		}
		DeclaredForeignKey &fk = keys[nkeys - 1];
		if (fk.spec.nkeys >= kMaxKeyColumns)
			elog(ERROR, "fk_guard: foreign key \"%s\" has more than %d columns", fk.spec.constraint_name,
			     kMaxKeyColumns);
		KeyColumnSpec &column = fk.spec.keys[fk.spec.nkeys++];
		column.fk_column = SPI_getvalue(row, desc, kFkColumn);
		column.pk_column = SPI_getvalue(row, desc, kPkColumn);
		column.eq_operator = name_at(row, desc, kOperatorSchema, kOperatorName);
		column.pk_cast = name_at(row, desc, kPkCastSchema, kPkCastName);
		column.fk_cast = name_at(row, desc, kFkCastSchema, kFkCastName);
		column.collation = name_at(row, desc, kCollationSchema, kCollationName);
		column.nondeterministic = bool_at(row, desc, kNondeterministic);
		column.collation_conflict = bool_at(row, desc, kCollationConflict);
		if (fk.refusal == Refusal::kNone)
			fk.refusal = refusal_of_row(row, desc);
		CHECK_FOR_INTERRUPTS();
	}
	*count = nkeys;
	return keys;
}

} // namespace fkg
