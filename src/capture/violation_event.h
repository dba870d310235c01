/*
 * violation_event.h
 *    One captured foreign-key violation, as recorded in the backend and in the
 *    shared ring.  A fixed-size POD: it is copied into shared memory and filled
 *    on error paths where nothing may allocate.
 */
#ifndef FK_GUARD_VIOLATION_EVENT_H
#define FK_GUARD_VIOLATION_EVENT_H

#include "common/guc.h"

#include <cstdint>

namespace fkg {

constexpr int kNameLength = 64; /* NAMEDATALEN */
constexpr int kQualifiedLength = 2 * kNameLength + 8;
constexpr int kColumnsLength = 512; /* "a, b, c" */
constexpr int kMessageLength = 256; /* enough to tell re-raised errors apart */
constexpr int kKeyLength = 512;

/* Which side of the foreign key the violation is on (see violation_classify.cpp). */
enum class Side : char { Child = 'c', Parent = 'p', MatchFull = 'f', Partition = 'r' };

/* The statement (or transaction step) during which the check failed. */
enum class Operation : char {
	Insert = 'i',
	Update = 'u',
	Delete = 'd',
	Merge = 'm',
	Copy = 'c',
	Commit = 'C',
	Prepare = 'P',
	SetConstraints = 's',
	AlterTable = 'a',
	Other = 'o',
};

/* What fk_guard knows about the constraint, resolved from the catalogs before
 * the error.  Names are always the declared foreign key's (a partition clone
 * is described by the constraint the user declared): one rule for the log
 * line, fk_violations, fk_violation_stats and fk_audit. */
struct ConstraintInfo {
	bool resolved;         /* false: only what the error itself said */
	unsigned declared_oid; /* partition clones map to the declared constraint */
	char declared_name[kNameLength];
	char child_table[kQualifiedLength]; /* its referencing table, schema-qualified, quoted as needed */
	char parent_table[kQualifiedLength];
	char fk_columns[kColumnsLength]; /* "a, b" */
	char parent_columns[kColumnsLength];
	/* The relations of the pg_constraint row that raised the error, where they
	 * are partitions of the declared ones (a clone's); empty otherwise. */
	char child_partition[kQualifiedLength];
	char parent_partition[kQualifiedLength];
	bool deferrable;
	bool initially_deferred;
};

struct ViolationEvent {
	int64_t ts; /* TimestampTz */
	unsigned dbid;
	unsigned userid;
	int pid;
	Side side;
	Operation operation;
	bool deferred;                 /* fired after its statement: COMMIT, PREPARE, SET CONSTRAINTS */
	bool handled;                  /* swallowed by server-side code */
	char schema_name[kNameLength]; /* as PostgreSQL's error names them */
	char table_name[kNameLength];
	char constraint_name[kNameLength];
	char database_name[kNameLength];
	char user_name[kNameLength];
	char application_name[kNameLength];
	char key[kKeyLength]; /* "(a)=(1)", empty when PostgreSQL hid it */
	char query[kMaxQueryLength + 1];
	ConstraintInfo info;
};

} // namespace fkg

#endif /* FK_GUARD_VIOLATION_EVENT_H */
