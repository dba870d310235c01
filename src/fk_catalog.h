/*
 * fk_catalog.h
 *    Reads the declared foreign keys to check from the system catalogs.
 */
#ifndef FK_GUARD_FK_CATALOG_H
#define FK_GUARD_FK_CATALOG_H

#include "orphan_query.h"

extern "C" {
#include "postgres.h"
}

namespace fkg {

/* A declared foreign key (partition clones folded in) and whether the current
 * role may check it.  Trivially destructible (pg_boundary.h, rule 2). */
struct DeclaredForeignKey {
	ForeignKeySpec spec;
	bool child_privileged;    /* SELECT on the referencing table (ctid and tableoid need it whole) */
	bool parent_privileged;   /* SELECT on the referenced key columns */
	bool child_row_security;  /* row-level security hides referencing rows from this role */
	bool parent_row_security; /* ... or referenced rows, which would make children look orphaned */

	bool
	checkable() const
	{
		return child_privileged && parent_privileged && !child_row_security && !parent_row_security;
	}
};

/*
 * The declared foreign keys whose referencing table is target (all of them when
 * target is InvalidOid), ordered by schema, table and constraint name.  When
 * target is a partition, the foreign keys it inherits are included and scan
 * only that partition.  Must be called while connected to SPI; the result lives
 * in SPI's procedure memory.
 */
DeclaredForeignKey *load_declared_foreign_keys(Oid target, int *count);

/* Raises PostgreSQL's usual error unless target names a table or partitioned table. */
void check_target_is_table(Oid target);

} // namespace fkg

#endif /* FK_GUARD_FK_CATALOG_H */
