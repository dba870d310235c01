/*
 * constraint_enforced.cpp
 *    fk_guard_constraint_enforced(oid): whether PostgreSQL enforces a foreign
 *    key at all.  From PostgreSQL 18 a key may be declared NOT ENFORCED: it has
 *    no RI triggers, so fk_audit cannot tell it from its triggers alone.
 */
#include "common/compat.h"
#include "common/pg_boundary.h"

extern "C" {
#include "utils/syscache.h"
}

/* NULL when the constraint is gone (dropped since the caller's snapshot). */
FKG_FUNCTION(fk_guard_constraint_enforced)
{
	Oid constraint_oid = PG_GETARG_OID(0);
	if (!SearchSysCacheExists1(CONSTROID, ObjectIdGetDatum(constraint_oid)))
		PG_RETURN_NULL();
	PG_RETURN_BOOL(fkg::compat::constraint_enforced(constraint_oid));
}
