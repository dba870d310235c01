/*
 * declared_constraint.h
 *    The one way fk_guard folds a partition's clone of a foreign key into the
 *    foreign key the user declared: for the counters and views in C++, and for
 *    SQL (fk_audit) through fk_guard_declared_constraint(oid).
 */
#ifndef FK_GUARD_DECLARED_CONSTRAINT_H
#define FK_GUARD_DECLARED_CONSTRAINT_H

extern "C" {
#include "postgres.h"
}

namespace fkg {

/* The foreign key the user declared that conoid is a partition clone of
 * (following conparentid to the top), or, on a Citus node, that conoid is a
 * shard's copy of (orders_customer_id_fkey_102045 on orders_102045 ->
 * orders_customer_id_fkey on orders); conoid itself when it is neither or is
 * unknown.  Reads the catalogs. */
Oid declared_constraint_of(Oid conoid);

} // namespace fkg

#endif /* FK_GUARD_DECLARED_CONSTRAINT_H */
