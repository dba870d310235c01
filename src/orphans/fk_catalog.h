/*
 * fk_catalog.h
 *    Reads the declared foreign keys to check from the system catalogs.
 */
#ifndef FK_GUARD_FK_CATALOG_H
#define FK_GUARD_FK_CATALOG_H

#include "orphans/orphan_query.h"

extern "C" {
#include "postgres.h"
}

namespace fkg {

/* Why a foreign key cannot be checked for the current role (kNone: it can). */
enum class Refusal {
	kNone,
	kTemporal,             /* a temporal foreign key (PERIOD, PostgreSQL 18): not implemented */
	kOtherSessionTemp,     /* another session's temporary table: its rows are not readable here */
	kUnloggedInRecovery,   /* an unlogged table (or partition) on a hot standby */
	kChildSchemaUsage,     /* no USAGE on the referencing table's schema */
	kParentSchemaUsage,    /* ... or on the referenced table's */
	kChildPrivilege,       /* no SELECT on the referencing table (ctid and tableoid need it whole) */
	kParentPrivilege,      /* no SELECT on the referenced key columns */
	kChildRowSecurity,     /* row-level security hides referencing rows from this role */
	kParentRowSecurity,    /* ... or referenced rows, which would make children look orphaned */
	kOwnerCannotReadParent /* the child's owner, who runs the check, may not read the referenced key */
};

/* A declared foreign key (partition clones folded in), whether the current
 * role may check it, and the role the check runs as.  Trivially destructible
 * (pg_boundary.h, rule 2). */
struct DeclaredForeignKey {
	ForeignKeySpec spec;
	Oid checker;     /* the referencing table's owner: queries over user tables run as this role */
	Refusal refusal; /* the first reason it cannot be checked, in the order above */

	bool
	checkable() const
	{
		return refusal == Refusal::kNone;
	}
};

/*
 * The declared foreign keys whose referencing table is target (all of them when
 * target is InvalidOid, except those of extension members unless
 * fk_guard.include_extension_tables is on), ordered by schema, table and constraint name.  When
 * target is a partition, the foreign keys it inherits are included and scan
 * only that partition.  Must be called while connected to SPI; the result lives
 * in SPI's procedure memory.
 */
DeclaredForeignKey *load_declared_foreign_keys(Oid target, int *count);

/* Raises PostgreSQL's usual error unless target names a table or partitioned table. */
void check_target_is_table(Oid target);

/* Raises the error that says why fk cannot be checked (fk.refusal != kNone). */
[[noreturn]] void raise_refusal(const DeclaredForeignKey &fk);

/* schema.name, each quoted as needed, in palloc'd memory. */
const char *relation_name(const QualifiedName &name);

/* A few words saying why fk was skipped, for the NOTICE of the all-tables scan. */
const char *refusal_reason(Refusal refusal);

} // namespace fkg

#endif /* FK_GUARD_FK_CATALOG_H */
