/*
 * audit_support.cpp
 *    What fk_audit_run() (a PL/pgSQL procedure) cannot find out in SQL.
 */
#include "pg_boundary.h"

extern "C" {
#include "access/xact.h"
}

/* True inside BEGIN ... COMMIT, where a procedure that commits cannot run. */
FKG_FUNCTION(fk_guard_in_transaction_block)
{
	PG_RETURN_BOOL(IsTransactionBlock());
}
