/*
 * extension_members.cpp
 *    Whether fk_guard's checks of every table cover a table's foreign keys.
 *
 * Tables that belong to an extension (pg_depend deptype 'e': Citus's pg_dist_*
 * catalogs, say) are the extension's business, as pg_dump leaves them out:
 * their foreign keys are left out of the all-tables scans unless
 * fk_guard.include_extension_tables is on.  fk_catalog.cpp applies the same
 * rule inside its catalog query; this is its SQL face, for fk_audit and
 * fk_audit_tables().  A Citus shard (on a node that holds shards) is never
 * covered on its own: its table's foreign keys cover it, as in fk_catalog.cpp.
 */
#include "citus/citus_catalog.h"
#include "common/guc.h"
#include "common/pg_boundary.h"

extern "C" {
#include "postgres.h"
#include "catalog/dependency.h"
#include "catalog/pg_class.h"
#include "fmgr.h"
}

/* fk_guard_covers_table(relid oid) RETURNS boolean */
FKG_FUNCTION(fk_guard_covers_table)
{
	Oid relid = PG_GETARG_OID(0);
	fkg::citus::Shard shard;
	if (fkg::citus::shard_of_relation(relid, &shard))
		PG_RETURN_BOOL(false);
	PG_RETURN_BOOL(fkg::guc::include_extension_tables || !OidIsValid(getExtensionOfObject(RelationRelationId, relid)));
}
