/*
 * constraint_cache.h
 *    What each foreign key is (declared name, tables, columns, deferrability),
 *    resolved from the catalogs while catalog access is allowed, so that the
 *    error path can describe a violation without touching the catalogs.
 */
#ifndef FK_GUARD_CONSTRAINT_CACHE_H
#define FK_GUARD_CONSTRAINT_CACHE_H

#include "capture/violation_event.h"

extern "C" {
#include "postgres.h"
#include "utils/relcache.h"
}

namespace fkg {

/* _PG_init: registers the invalidation callback. */
void constraint_cache_init();

/* Resolves the foreign keys that reference or are referenced by relid (and
 * its partitions), once per relation until an invalidation concerns it (any
 * change to pg_constraint does).  Needs a valid transaction. */
void constraint_cache_note_relation(Oid relid);
/* The same for a relation the caller has open (an executor result relation):
 * a table that is not partitioned is resolved from its relcache. */
void constraint_cache_note_open_relation(Oid relid, Relation rel);

/* The constraint as PostgreSQL's error names it (schema and table of the
 * referencing table, constraint name).  Neither allocates nor reads the
 * catalogs: safe on the error path.  False when not resolved. */
bool constraint_cache_lookup(const char *schema, const char *table, const char *constraint, ConstraintInfo *out);

/* Writes the quoted names of relid's primary key columns ("a, b") into buf
 * (empty without a primary key): what REFERENCES t without a column list
 * references.  Reads the catalogs. */
void primary_key_columns(char *buf, size_t size, Oid relid);

/* Writes relid's schema-qualified, quoted name into buf (empty if it is gone).  Reads the catalogs. */
void qualified_relation_name(char *buf, size_t size, Oid relid);

} // namespace fkg

#endif /* FK_GUARD_CONSTRAINT_CACHE_H */
