/*
 * declared_constraint.cpp
 *    Partition clones folded into their declared foreign key (see the header).
 */
#include "common/declared_constraint.h"

#include "common/pg_boundary.h"
#include "citus/citus_catalog.h"

extern "C" {
#include "access/htup_details.h"
#include "catalog/pg_constraint.h"
#include "utils/syscache.h"
}

namespace fkg {

Oid
declared_constraint_of(Oid conoid)
{
	for (;;) {
		HeapTuple tuple = SearchSysCache1(CONSTROID, ObjectIdGetDatum(conoid));
		if (!HeapTupleIsValid(tuple))
			return conoid;
		Oid parent = ((Form_pg_constraint) GETSTRUCT(tuple))->conparentid;
		ReleaseSysCache(tuple);
		if (!OidIsValid(parent)) {
			/* A Citus shard's constraint folds into its table's, which may be a clone in turn. */
			parent = citus::declared_constraint_of_shard(conoid);
			if (!OidIsValid(parent))
				return conoid;
		}
		conoid = parent;
	}
}

} // namespace fkg

/* fk_guard_declared_constraint(oid) RETURNS oid: the SQL face of declared_constraint_of. */
FKG_FUNCTION(fk_guard_declared_constraint)
{
	PG_RETURN_OID(fkg::declared_constraint_of(PG_GETARG_OID(0)));
}
