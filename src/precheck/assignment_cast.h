/*
 * assignment_cast.h
 *    SQL that converts a staging table's column to the type of the column it
 *    is loaded into, as INSERT converts it (an assignment cast), for
 *    fk_precheck().
 *
 * INSERT coerces with COERCION_ASSIGNMENT (parse_target.c, transformAssignedExpr):
 * a pair of types without an assignment or implicit cast is an error before
 * any row is read, and a length coercion (varchar(n), bpchar(n), bit(n)) is
 * called with isExplicit = false, so that a value too long raises 22001
 * instead of being truncated as an explicit CAST would.  SQL has no syntax
 * for an assignment cast, so the pieces are written out: the conversion the
 * assignment path uses (the same pg_cast entry, or I/O, an explicit cast
 * takes), then the type's length coercion function called with false, then
 * the domain, if the column's type is one.
 */
#ifndef FK_GUARD_ASSIGNMENT_CAST_H
#define FK_GUARD_ASSIGNMENT_CAST_H

extern "C" {
#include "postgres.h"
}

namespace fkg {

/*
 * value_sql (an expression of type source_type/source_typmod) converted to
 * target_type/target_typmod as INSERT would, under the collation collation
 * (InvalidOid: none); column names the target column for the error raised
 * when INSERT itself would refuse the types (42804).  palloc'd.
 */
const char *assignment_cast_sql(const char *value_sql, Oid source_type, int32 source_typmod, Oid target_type,
                                int32 target_typmod, Oid collation, const char *column);

} // namespace fkg

#endif /* FK_GUARD_ASSIGNMENT_CAST_H */
