/*
 * owner_identity.h
 *    Running queries over a table as its owner, the way PostgreSQL runs its
 *    own RI checks and maintenance commands (ri_PerformCheck, vacuum_rel).
 *
 * fk_guard is called by superusers and pg_cron jobs over tables that other
 * roles own.  Any user code such a query may reach (a cast, an operator, a
 * function in a default or index expression) must run with the rights of the
 * role that owns the table, never with the caller's: so the query runs as the
 * owner, in a security-restricted operation (no SET ROLE, no temporary
 * objects, no deferred work escaping it), with row-level security not forced
 * on the owner (the caller's own RLS was checked before), and with
 * search_path pinned to pg_catalog, pg_temp in a new GUC nest level.
 *
 * On error the transaction or subtransaction abort restores the identity and
 * the GUCs, as for VACUUM; on success call restore_identity().
 */
#ifndef FK_GUARD_OWNER_IDENTITY_H
#define FK_GUARD_OWNER_IDENTITY_H

extern "C" {
#include "postgres.h"
}

namespace fkg {

struct SavedIdentity {
	Oid userid;
	int sec_context;
	int guc_nest_level;
};

/* Switches to owner as described above and returns what to restore. */
SavedIdentity become_owner(Oid owner);

/* Undoes become_owner() after the queries succeeded. */
void restore_identity(const SavedIdentity &saved);

} // namespace fkg

#endif /* FK_GUARD_OWNER_IDENTITY_H */
