/*
 * statement_reader.h
 *    What a statement does, read from its plan or parse tree while it runs:
 *    the operations a violation raised in it is recorded under, and the
 *    foreign keys an ALTER TABLE adds (described from the statement, for a
 *    violation raised before the new constraint can be read from the
 *    catalogs).
 */
#ifndef FK_GUARD_STATEMENT_READER_H
#define FK_GUARD_STATEMENT_READER_H

#include "capture/violation_classify.h"

extern "C" {
#include "postgres.h"
#include "executor/execdesc.h"
#include "nodes/parsenodes.h"
}

namespace fkg {

/* The Operations a planned statement performs: its own, and those of its
 * data-modifying WITH queries, as operation_bit()s. */
unsigned statement_operations(const QueryDesc *query);

/* The operation a utility statement's own RI errors belong to. */
Operation utility_operation(const Node *statement);

/* True for operations whose checks fire after their statement. */
bool fires_after_statement(Operation operation);

/* The foreign keys an ALTER TABLE ... ADD creates on relid, described from
 * the statement in statement memory (a List of ConstraintInfo *).  Reads
 * the catalogs: call when the statement starts. */
List *added_foreign_keys(const AlterTableStmt *statement, Oid relid);

/* The one of added named constraint (an unnamed one only when it is the
 * only one); nullptr when none fits.  Safe on the error path. */
const ConstraintInfo *added_by_name(List *added, const char *constraint);

} // namespace fkg

#endif /* FK_GUARD_STATEMENT_READER_H */
