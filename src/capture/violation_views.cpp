/*
 * violation_views.cpp
 *    The SQL functions behind fk_violations, fk_violation_stats,
 *    fk_guard_constraint_violations and fk_guard_reset: what a reader may see
 *    (privilege filtering), counters folded into their declared foreign key,
 *    and the rows as Datums.  Shared memory itself is violation_store's: these
 *    functions only read its copies, with no lock held.
 */
#include "capture/bypass_store.h"
#include "capture/constraint_cache.h"
#include "capture/violation_classify.h"
#include "capture/violation_store.h"
#include "common/compat.h"
#include "common/declared_constraint.h"
#include "common/pg_boundary.h"

extern "C" {
#include "access/htup_details.h"
#include "catalog/namespace.h"
#include "catalog/pg_authid.h"
#include "catalog/pg_constraint.h"
#include "commands/dbcommands.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/hsearch.h"
#include "utils/lsyscache.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"
}

#include <cstring>

namespace {

using fkg::CounterCopy;
using fkg::StoredViolation;

/* Views need the shared memory that only preloading creates. */
void
require_preloaded()
{
	if (!fkg::violation_store_attached())
		ereport(ERROR, (errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
		                errmsg("fk_guard must be loaded via shared_preload_libraries"),
		                errhint("Add fk_guard to shared_preload_libraries in postgresql.conf and restart the "
		                        "server. fk_orphans() and fk_orphan_summary() work without it.")));
}

/*
 * Whether the current role may see the key and query of every violation.  Key
 * values are row data: only the role that raised a violation, superusers and
 * members of pg_read_all_data see them (pg_read_all_stats is not enough: it
 * grants no right to read tables).
 */
bool
may_see_all_details()
{
	return superuser() || has_privs_of_role(GetUserId(), ROLE_PG_READ_ALL_DATA);
}

/* Text of a violation as a Datum; NULL when empty or not valid in this
 * database's encoding (the ring is server-wide: a value captured in a
 * SQL_ASCII database may be no valid text in a UTF8 one). */
Datum
text_or_null(const char *s, bool *isnull)
{
	*isnull = (s == nullptr || *s == '\0' || !pg_verifymbstr(s, (int) strlen(s), true));
	return *isnull ? (Datum) 0 : CStringGetTextDatum(s);
}

/* ---- fk_violations ---- */

/* fk_violations_internal's columns (fk_guard--1.5.sql). */
constexpr int kViolationColumns = 16;

struct RingRows {
	ReturnSetInfo *rsinfo;
	bool all_details;
};

/* One row of fk_violations. */
void
put_violation(const StoredViolation &v, void *arg)
{
	const RingRows *out = static_cast<const RingRows *>(arg);
	char *database = get_database_name(v.dbid);
	char *user = GetUserNameFromId(v.userid, true);
	bool details = out->all_details || v.userid == GetUserId();
	Datum values[kViolationColumns];
	bool nulls[kViolationColumns] = {};
	values[0] = TimestampTzGetDatum(v.ts);
	values[1] = DirectFunctionCall1(namein, CStringGetDatum(database ? database : v.database));
	values[2] = DirectFunctionCall1(namein, CStringGetDatum(user ? user : v.user));
	values[3] = text_or_null(v.application, &nulls[3]);
	values[4] = DirectFunctionCall1(namein, CStringGetDatum(v.constraint));
	values[5] = text_or_null(v.child_table, &nulls[5]);
	values[6] = text_or_null(v.parent_table, &nulls[6]);
	values[7] = CStringGetTextDatum(fkg::side_name(v.side));
	values[8] = CStringGetTextDatum(fkg::operation_name(v.operation));
	values[9] = text_or_null(details ? v.key : nullptr, &nulls[9]);
	values[10] = text_or_null(details ? v.query : nullptr, &nulls[10]);
	values[11] = BoolGetDatum(v.deferred);
	values[12] = BoolGetDatum(v.handled);
	values[13] = Int32GetDatum(v.pid);
	values[14] = text_or_null(v.child_partition, &nulls[14]);
	values[15] = text_or_null(v.parent_partition, &nulls[15]);
	tuplestore_putvalues(out->rsinfo->setResult, out->rsinfo->setDesc, values, nulls);
}

/* ---- counters, folded into their declared foreign key ---- */

/* The declared constraint a counter belongs to, looked up by name when the
 * violation was recorded without a description (current database only). */
Oid
declared_constraint(const CounterCopy &c)
{
	if (OidIsValid(c.declared_oid))
		return c.declared_oid;
	Oid nsp = get_namespace_oid(c.schema, true);
	Oid rel = OidIsValid(nsp) ? get_relname_relid(c.table, nsp) : InvalidOid;
	Oid con = OidIsValid(rel) ? get_relation_constraint_oid(rel, c.constraint, true) : InvalidOid;
	return OidIsValid(con) ? fkg::declared_constraint_of(con) : InvalidOid;
}

/* Names a counter by its declared foreign key as the catalogs have it now
 * (tables renamed since are shown by their new names). */
void
name_from_catalog(CounterCopy *c)
{
	HeapTuple tuple = SearchSysCache1(CONSTROID, ObjectIdGetDatum(c->declared_oid));
	if (!HeapTupleIsValid(tuple))
		return;
	Form_pg_constraint con = (Form_pg_constraint) GETSTRUCT(tuple);
	fkg::copy_truncated(c->declared_name, sizeof(c->declared_name), NameStr(con->conname));
	fkg::qualified_relation_name(c->child_table, sizeof(c->child_table), con->conrelid);
	fkg::qualified_relation_name(c->parent_table, sizeof(c->parent_table), con->confrelid);
	ReleaseSysCache(tuple);
}

/*
 * The counters of the current database, those of one declared foreign key
 * merged into the first of them (a counter recorded by the names an error
 * gave, before capture could describe the constraint, is matched through the
 * catalogs), each named by its declared foreign key.  Merged-away counters
 * are dropped; *count is what is left.
 */
CounterCopy *
folded_counters(int *count, fkg::ViolationTotals *overflow)
{
	int n;
	CounterCopy *copy = fkg::violation_store_copy_counters(&n, overflow);
	HASHCTL ctl = {};
	ctl.keysize = sizeof(Oid);
	ctl.entrysize = sizeof(Oid) + sizeof(int);
	ctl.hcxt = CurrentMemoryContext;
	HTAB *first = hash_create("fk_guard folded counters", Max(n, 16), &ctl, HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	struct Entry {
		Oid declared;
		int index;
	};
	int kept = 0;
	for (int i = 0; i < n; i++) {
		CounterCopy c = copy[i];
		c.declared_oid = declared_constraint(c);
		if (!OidIsValid(c.declared_oid)) {
			copy[kept++] = c;
			continue;
		}
		bool found;
		Entry *e = (Entry *) hash_search(first, &c.declared_oid, HASH_ENTER, &found);
		if (!found) {
			e->index = kept;
			name_from_catalog(&c);
			copy[kept++] = c;
			continue;
		}
		CounterCopy &into = copy[e->index];
		into.totals.violations += c.totals.violations;
		into.totals.handled += c.totals.handled;
		into.totals.first_at = Min(into.totals.first_at, c.totals.first_at);
		into.totals.last_at = Max(into.totals.last_at, c.totals.last_at);
		into.last_24h += c.last_24h;
	}
	hash_destroy(first);
	*count = kept;
	return copy;
}

/* fk_violation_stats_internal's columns. */
constexpr int kStatsColumns = 7;

/* Columns 3 to 6: violations, handled, first_at, last_at. */
void
put_totals(Datum *values, const fkg::ViolationTotals &t)
{
	values[3] = Int64GetDatum(t.violations);
	values[4] = Int64GetDatum(t.handled);
	values[5] = TimestampTzGetDatum(t.first_at);
	values[6] = TimestampTzGetDatum(t.last_at);
}

void
put_counter(ReturnSetInfo *rsinfo, const CounterCopy &c)
{
	Datum values[kStatsColumns];
	bool nulls[kStatsColumns] = {};
	values[0] = DirectFunctionCall1(namein, CStringGetDatum(*c.declared_name ? c.declared_name : c.constraint));
	values[1] = text_or_null(*c.child_table ? c.child_table : quote_qualified_identifier(c.schema, c.table), &nulls[1]);
	values[2] = text_or_null(c.parent_table, &nulls[2]);
	put_totals(values, c.totals);
	tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
}

/* The overflow row: no constraint, no tables. */
void
put_overflow(ReturnSetInfo *rsinfo, const fkg::ViolationTotals &o)
{
	Datum values[kStatsColumns] = {};
	bool nulls[kStatsColumns] = {true, true, true, false, false, false, false};
	put_totals(values, o);
	tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
}

} // namespace

FKG_FUNCTION(fk_guard_preloaded)
{
	PG_RETURN_BOOL(fkg::violation_store_attached());
}

FKG_FUNCTION(fk_violations_internal)
{
	require_preloaded();
	RingRows out = {fkg::compat::init_materialized_srf(fcinfo), may_see_all_details()};
	fkg::violation_store_read_ring(put_violation, &out);
	return (Datum) 0;
}

FKG_FUNCTION(fk_violation_stats_internal)
{
	require_preloaded();
	ReturnSetInfo *rsinfo = fkg::compat::init_materialized_srf(fcinfo);
	int n;
	fkg::ViolationTotals overflow;
	CounterCopy *counters = folded_counters(&n, &overflow);
	for (int i = 0; i < n; i++)
		put_counter(rsinfo, counters[i]);
	if (overflow.violations > 0)
		put_overflow(rsinfo, overflow);
	return (Datum) 0;
}

/* Per declared foreign key of the current database: what fk_audit shows. */
FKG_FUNCTION(fk_guard_constraint_violations)
{
	ReturnSetInfo *rsinfo = fkg::compat::init_materialized_srf(fcinfo);
	if (!fkg::violation_store_attached())
		return (Datum) 0;
	int n;
	CounterCopy *counters = folded_counters(&n, nullptr);
	for (int i = 0; i < n; i++) {
		const CounterCopy &c = counters[i];
		if (!OidIsValid(c.declared_oid) || c.totals.violations == 0)
			continue;
		Datum values[5] = {ObjectIdGetDatum(c.declared_oid), Int64GetDatum(c.totals.violations),
		                   Int64GetDatum(c.totals.handled), TimestampTzGetDatum(c.totals.last_at),
		                   Int64GetDatum(c.last_24h)};
		bool nulls[5] = {};
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}

FKG_FUNCTION(fk_guard_reset)
{
	require_preloaded();
	fkg::violation_store_reset();
	fkg::bypass_store_reset();
	PG_RETURN_VOID();
}
