/*
 * orphan_query.h
 *    Builds the SQL that finds the orphans of one foreign key.
 *
 * Pure C++ (no PostgreSQL calls), so it is unit tested without a server.  The
 * verdict is RI_FKey_check's, the check PostgreSQL runs on each written row
 * (src/backend/utils/adt/ri_triggers.c): rows whose key the match type says
 * must be checked (ri_NullCheck: the columns' own null flags) and for which no
 * referenced row is equal under the constraint's own operators, with the
 * casts and COLLATE clause PostgreSQL adds.  RI_Initial_Check, what ADD
 * FOREIGN KEY and VALIDATE CONSTRAINT run, tests IS NOT NULL on the columns
 * instead, which on a composite-typed column tests its fields (README.md).
 */
#ifndef FK_GUARD_ORPHAN_QUERY_H
#define FK_GUARD_ORPHAN_QUERY_H

#include <cstdint>
#include <string>

namespace fkg {

/* PostgreSQL's INDEX_MAX_KEYS, the most columns a foreign key can have. */
constexpr int kMaxKeyColumns = 32;

/* A schema-qualified catalog name; empty when name is null. */
struct QualifiedName {
	const char *schema;
	const char *name;

	bool
	empty() const
	{
		return name == nullptr;
	}
};

/* One referencing/referenced column pair of a foreign key. */
struct KeyColumnSpec {
	const char *fk_column;     /* referencing column, unquoted */
	const char *pk_column;     /* referenced column, unquoted */
	QualifiedName eq_operator; /* pg_constraint.conpfeqop: pk = fk */
	QualifiedName pk_cast;     /* type to cast the pk column to, when it differs from the operator's input */
	QualifiedName fk_cast;     /* the same for the fk column */
	QualifiedName collation;   /* pk collation, when the two columns' collations differ */
	bool nondeterministic;     /* compared under a nondeterministic collation */
	bool collation_conflict;   /* RI_FKey_check's comparison has two implicit collations: it cannot run */
};

/* Everything needed to write the orphan query of one declared foreign key.
 * Trivially destructible: it is filled from SPI results (see pg_boundary.h). */
struct ForeignKeySpec {
	unsigned constraint_oid; /* the declared constraint */
	const char *constraint_name;
	unsigned scan_relid; /* the referencing table to scan (a partition when asked for one) */
	QualifiedName scan_relation;
	bool scan_partitioned; /* partitioned tables are scanned with their partitions */
	unsigned parent_relid;
	QualifiedName parent_relation;
	bool parent_partitioned;
	bool match_full;
	bool validated;
	bool citus_child;  /* the referencing table is a Citus table: its rows are in shards, fk.tableoid names one */
	bool citus_parent; /* the referenced table is one */
	int nkeys;
	KeyColumnSpec keys[kMaxKeyColumns];
};

/* The referencing table as a query reads it: "ONLY schema.table", or without
 * ONLY when it is partitioned (its partitions are read with it). */
std::string scanned_relation(const ForeignKeySpec &fk);

/* The condition, over the referencing table aliased fk, that a row is an
 * orphan: the predicate every query of fk_orphans and fk_repair uses. */
std::string orphan_condition(const ForeignKeySpec &fk);

/* True when every key column of the row of alias fk is non-null, each
 * column's own null flag tested (as ri_NullCheck reads the tuple). */
std::string key_complete(const ForeignKeySpec &fk);

/* fk_orphans' key column: jsonb_build_object of the fk columns of alias fk. */
std::string key_object(const ForeignKeySpec &fk);

/* SELECT returning fk_orphans' columns for one foreign key, in a stable order.
 * limit < 0 means no limit.  located adds fk_orphans_located's shard_id: the
 * Citus shard the row is in (read on the node that holds it), NULL for a table
 * that is not a Citus table. */
std::string orphan_rows_query(const ForeignKeySpec &fk, int64_t limit, bool located = false);

/* The same columns for the rows of table whose ctid is in the tid[]
 * parameter $1, in the same order: the one-pass engine's orphans, shown
 * exactly as the planner's path shows them.  table is fk.scan_relation, or
 * one of its leaf partitions that the query may read directly (ONLY). */
std::string orphan_rows_by_ctid_query(const ForeignKeySpec &fk, const QualifiedName &table);

/* The same, for rows of the leaf partitions leaves[0..nleaves) of
 * fk.scan_relation (partitioned), read through it: the privileges and
 * row-level security of a query on it apply, as on the planner's path, not
 * the partitions' own.  $1 (tid[]) holds every ctid wanted, $2, $3... each
 * leaf's in turn. */
std::string orphan_rows_by_ctid_through_parent_query(const ForeignKeySpec &fk, const unsigned *leaves, int nleaves);

/* SELECT returning fk_orphan_summary's single row for one foreign key;
 * with_oid adds the declared constraint's OID as a last column. */
std::string orphan_summary_query(const ForeignKeySpec &fk, bool with_oid = false);

/* True when PostgreSQL's own per-row check cannot compare the keys: its
 * query compares the referenced column (under its collation) with a
 * parameter of the referencing column's type (under that type's collation),
 * and two different non-default implicit collations make the check raise
 * 42P22 whenever it evaluates that comparison (a name column referencing a
 * column under an ICU collation, say; whether a row gets that far depends on
 * PostgreSQL's plan and on the other key columns). */
bool ri_cannot_compare(const ForeignKeySpec &fk);

/* SELECT returning whether fk.scan_relation has a row RI_FKey_check would check. */
std::string checked_rows_exist_query(const ForeignKeySpec &fk);

/* True when a hash join or hash aggregate could split keys the constraint's
 * equality calls equal: a nondeterministic collation, under which a
 * cross-type equality's two hash functions (name's and text's, say) need not
 * agree.  Such queries must run without hashing: RI_FKey_check never hashes. */
bool hashing_may_split(const ForeignKeySpec &fk);

/* One foreign key fk_precheck judges, and the relations standing in for its
 * referenced table (the rows of other staging tables, as they will be loaded
 * into it: its column names and types). */
struct PrecheckKey {
	const ForeignKeySpec *fk; /* its scan_relation is not read */
	const char *const *stand_ins;
	int nstand_ins;
};

/*
 * fk_precheck's rows (constraint name, referenced table, staging ctid, and
 * the key as PostgreSQL's DETAIL writes it: "(a, b)=(1, null)"), in keys'
 * order, then by ctid: the rows of relation staged -- a CTE defined in with
 * ("WITH ..."; may be empty) or an ephemeral named relation, holding the
 * staging rows' keys already converted to the referencing columns' types
 * (named as them) and the rows' ctids in ctid_column -- that RI_FKey_check
 * would reject for each key, unless a stand-in holds the key.  The keys
 * without stand-ins are judged in one pass over staged, each referenced table
 * left-joined on the same partner condition as the orphan queries'; a key
 * with stand-ins by anti joins of its own.  A CTE staged is read once per
 * pass: define it NOT MATERIALIZED.
 */
std::string precheck_rows_query(const PrecheckKey *keys, int nkeys, const std::string &with, const char *staged,
                                const char *ctid_column);

/* SELECT returning whether staged has a row RI_FKey_check would check for fk. */
std::string precheck_checked_rows_exist_query(const ForeignKeySpec &fk, const std::string &with, const char *staged);

} // namespace fkg

#endif /* FK_GUARD_ORPHAN_QUERY_H */
