/*
 * bypass_views.cpp
 *    The SQL functions behind fk_bypass_stats and the bypass facts that
 *    fk_audit and incremental audits read (fk_guard_bypass_reasons(), in SQL,
 *    combines them).  They show what fk_violation_stats shows: counts and
 *    names of the current database's foreign keys, to everyone.
 */
#include "capture/bypass_store.h"
#include "common/compat.h"
#include "common/pg_boundary.h"

extern "C" {
#include "catalog/pg_type.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/timestamp.h"
}

namespace {

using fkg::BypassCounterCopy;

/* The reasons as text[]. */
Datum
reasons_array(uint32 reasons)
{
	Datum names[fkg::kBypassReasons];
	int n = 0;
	for (uint32 bit = 1; bit < (1u << fkg::kBypassReasons); bit <<= 1)
		if (reasons & bit)
			names[n++] = CStringGetTextDatum(fkg::bypass_reason_name(bit));
	return PointerGetDatum(construct_array(names, n, TEXTOID, -1, false, TYPALIGN_INT));
}

/* The roles as name[] (those dropped since are left out). */
Datum
roles_array(const BypassCounterCopy &c)
{
	Datum names[fkg::kBypassRoles];
	int n = 0;
	for (int i = 0; i < c.nroles; i++) {
		const char *role = GetUserNameFromId(c.roles[i], true);
		if (role != nullptr)
			names[n++] = DirectFunctionCall1(namein, CStringGetDatum(role));
	}
	return PointerGetDatum(construct_array(names, n, NAMEOID, NAMEDATALEN, false, TYPALIGN_CHAR));
}

Datum
timestamp_or_null(TimestampTz ts, bool *isnull)
{
	*isnull = ts == 0;
	return TimestampTzGetDatum(ts);
}

/* fk_guard_bypass_counters' columns. */
constexpr int kCounterColumns = 9;

void
put_counters(FunctionCallInfo fcinfo)
{
	ReturnSetInfo *rsinfo = fkg::compat::init_materialized_srf(fcinfo);
	if (!fkg::bypass_store_attached())
		return;
	int n;
	BypassCounterCopy *counters = fkg::bypass_store_copy(&n);
	for (int i = 0; i < n; i++) {
		const BypassCounterCopy &c = counters[i];
		Datum values[kCounterColumns];
		bool nulls[kCounterColumns] = {};
		values[0] = ObjectIdGetDatum(c.declared_oid);
		values[1] = DirectFunctionCall1(namein, CStringGetDatum(c.declared_name));
		values[2] = CStringGetTextDatum(c.child_table);
		values[3] = CStringGetTextDatum(c.parent_table);
		values[4] = Int64GetDatum(c.totals.rows);
		values[5] = timestamp_or_null(c.totals.first_at, &nulls[5]);
		values[6] = timestamp_or_null(c.totals.last_at, &nulls[6]);
		values[7] = reasons_array(c.totals.reasons);
		values[8] = roles_array(c);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
}

} // namespace

/* Every counter of the current database (no rows without preloading). */
FKG_FUNCTION(fk_guard_bypass_counters)
{
	put_counters(fcinfo);
	return (Datum) 0;
}

/* The same for fk_bypass_stats, which needs preloading as fk_violation_stats does. */
FKG_FUNCTION(fk_bypass_stats_internal)
{
	if (!fkg::bypass_store_attached())
		ereport(ERROR, (errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE), errmsg("fk_guard's bypass tracking is off"),
		                errdetail("It needs fk_guard in shared_preload_libraries and fk_guard.track_bypass on (the "
		                          "default) at server start."),
		                errhint("fk_orphans() and fk_orphan_summary() work without it; incremental audits then "
		                        "check every foreign key.")));
	put_counters(fcinfo);
	return (Datum) 0;
}

/* fk_guard_bypass_counter(constraint_oid): its counter's (unchecked_rows, first_at, last_at), or no row. */
FKG_FUNCTION(fk_guard_bypass_counter)
{
	ReturnSetInfo *rsinfo = fkg::compat::init_materialized_srf(fcinfo);
	BypassCounterCopy c;
	if (!fkg::bypass_store_attached() || !fkg::bypass_store_find(PG_GETARG_OID(0), &c))
		return (Datum) 0;
	Datum values[4];
	bool nulls[4] = {};
	values[0] = Int64GetDatum(c.totals.rows);
	values[1] = timestamp_or_null(c.totals.first_at, &nulls[1]);
	values[2] = timestamp_or_null(c.totals.last_at, &nulls[2]);
	values[3] = reasons_array(c.totals.reasons);
	tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	return (Datum) 0;
}

/* fk_guard_bypass_tracking(): (tracking (preloaded, fk_guard.track_bypass on), lost_at, lost_reason, overflow_rows,
 * overflow_first_at, overflow_last_at, overflow_reasons). */
FKG_FUNCTION(fk_guard_bypass_tracking)
{
	TupleDesc desc;
	if (get_call_result_type(fcinfo, nullptr, &desc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "fk_guard: fk_guard_bypass_tracking must return a record");
	constexpr int kColumns = 7;
	Datum values[kColumns] = {};
	bool nulls[kColumns] = {false, true, true, false, true, true, false};
	values[0] = BoolGetDatum(fkg::bypass_store_attached());
	values[3] = Int64GetDatum(0);
	values[6] = reasons_array(0);
	if (fkg::bypass_store_attached()) {
		fkg::BypassTracking t = fkg::bypass_store_tracking();
		values[1] = timestamp_or_null(t.lost_at, &nulls[1]);
		const char *why = fkg::tracking_lost_name(t.lost_reason);
		nulls[2] = why == nullptr;
		if (why != nullptr)
			values[2] = CStringGetTextDatum(why);
		values[3] = Int64GetDatum(t.overflow.rows);
		values[4] = timestamp_or_null(t.overflow.first_at, &nulls[4]);
		values[5] = timestamp_or_null(t.overflow.last_at, &nulls[5]);
		values[6] = reasons_array(t.overflow.reasons);
	}
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(BlessTupleDesc(desc), values, nulls)));
}
