/*
 * citus_functions.cpp
 *    SQL functions that tell fk_audit what Citus makes of a table: its kind
 *    and distribution column, read from pg_dist_partition (citus_catalog.h).
 */
#include "citus/citus_catalog.h"
#include "common/pg_boundary.h"

extern "C" {
#include "postgres.h"
#include "fmgr.h"
#include "utils/builtins.h"
}

/* fk_guard_citus_table(relid oid) RETURNS text: 'distributed', 'reference',
 * 'local' (a Citus local table), or NULL for a table Citus does not manage. */
FKG_FUNCTION(fk_guard_citus_table)
{
	fkg::citus::TableFacts facts;
	if (!fkg::citus::table_facts(PG_GETARG_OID(0), &facts))
		PG_RETURN_NULL();
	PG_RETURN_TEXT_P(cstring_to_text(facts.kind));
}

/* fk_guard_citus_distribution_column(relid oid) RETURNS smallint: the
 * distribution column's number, NULL when it has none. */
FKG_FUNCTION(fk_guard_citus_distribution_column)
{
	fkg::citus::TableFacts facts;
	if (!fkg::citus::table_facts(PG_GETARG_OID(0), &facts) || facts.distribution_column == InvalidAttrNumber)
		PG_RETURN_NULL();
	PG_RETURN_INT16(facts.distribution_column);
}
