/*
 * fk_catalog.cpp
 *    Declared foreign keys, their key columns and operators, read through SPI.
 *
 * Only declared constraints are returned (pg_constraint.conparentid = 0): the
 * clones PostgreSQL creates on partitions of either side are covered by
 * scanning the declared tables with their partitions, as RI_Initial_Check does.
 */
#include "fk_catalog.h"

extern "C" {
#include "catalog/pg_class.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
}

namespace fkg {

/* One row per key column.  Casts and COLLATE follow ri_GenerateQual and
 * ri_GenerateQualCollation: cast a column to the operator's input type when
 * they differ, and compare under the referenced column's collation when the
 * two collations differ. */
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
       pg_catalog.has_table_privilege(s.oid, 'SELECT'),
       pg_catalog.has_column_privilege(p.oid, pa.attnum, 'SELECT'),
       pg_catalog.row_security_active(s.oid),
       pg_catalog.row_security_active(p.oid)
  FROM pg_catalog.pg_constraint c
  JOIN pg_catalog.pg_class s ON s.oid = COALESCE($1, c.conrelid)
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
  JOIN pg_catalog.pg_namespace rtn ON rtn.oid = rt.typnamespace
  LEFT JOIN pg_catalog.pg_collation coll ON coll.oid = pa.attcollation
  LEFT JOIN pg_catalog.pg_namespace colln ON colln.oid = coll.collnamespace
 WHERE c.contype = 'f' AND c.conparentid = 0
   AND ($1 IS NULL OR c.conrelid = $1
        OR c.conrelid IN (SELECT relid FROM pg_catalog.pg_partition_ancestors($1)))
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
	kChildPrivileged,
	kParentPrivileged,
	kChildRowSecurity,
	kParentRowSecurity,
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

DeclaredForeignKey *
load_declared_foreign_keys(Oid target, int *count)
{
	Oid argtypes[1] = {OIDOID};
	Datum args[1] = {ObjectIdGetDatum(target)};
	char nulls[1] = {OidIsValid(target) ? ' ' : 'n'};

	int rc = SPI_execute_with_args(kForeignKeyColumnsQuery, 1, argtypes, args, nulls, true, 0);
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "fk_guard: catalog query failed: %s", SPI_result_code_string(rc));

	TupleDesc desc = SPI_tuptable->tupdesc;
	uint64 nrows = SPI_processed;
	DeclaredForeignKey *keys = static_cast<DeclaredForeignKey *>(palloc0(sizeof(DeclaredForeignKey) * (nrows + 1)));
	int nkeys = 0;
	Oid current = InvalidOid;

	for (uint64 r = 0; r < nrows; r++) {
		HeapTuple row = SPI_tuptable->vals[r];
		Oid constraint = oid_at(row, desc, kConstraintOid);
		if (constraint != current) {
			current = constraint;
			DeclaredForeignKey &fk = keys[nkeys++];
			fk.spec.constraint_name = SPI_getvalue(row, desc, kConstraintName);
			fk.spec.scan_relid = oid_at(row, desc, kScanRelid);
			fk.spec.scan_relation = name_at(row, desc, kScanSchema, kScanName);
			fk.spec.scan_partitioned = bool_at(row, desc, kScanPartitioned);
			fk.spec.parent_relid = oid_at(row, desc, kParentRelid);
			fk.spec.parent_relation = name_at(row, desc, kParentSchema, kParentName);
			fk.spec.parent_partitioned = bool_at(row, desc, kParentPartitioned);
			fk.spec.match_full = bool_at(row, desc, kMatchFull);
			fk.spec.validated = bool_at(row, desc, kValidated);
			fk.child_privileged = bool_at(row, desc, kChildPrivileged);
			fk.parent_privileged = true;
			fk.child_row_security = bool_at(row, desc, kChildRowSecurity);
			fk.parent_row_security = bool_at(row, desc, kParentRowSecurity);
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
		fk.parent_privileged = fk.parent_privileged && bool_at(row, desc, kParentPrivileged);
		CHECK_FOR_INTERRUPTS();
	}
	*count = nkeys;
	return keys;
}

} // namespace fkg
