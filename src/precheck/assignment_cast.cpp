/*
 * assignment_cast.cpp
 *    An INSERT's conversion of a value, written as SQL (see assignment_cast.h).
 */
#include "precheck/assignment_cast.h"

extern "C" {
#include "lib/stringinfo.h"
#include "parser/parse_coerce.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/ruleutils.h"
}

namespace fkg {

namespace {

/* The type without a typmod: "bpchar", not "character", which means char(1). */
const char *
type_sql(Oid type)
{
	return format_type_extended(type, -1, FORMAT_TYPE_FORCE_QUALIFY | FORMAT_TYPE_TYPEMOD_GIVEN);
}

const char *
function_sql(Oid function)
{
	return quote_qualified_identifier(get_namespace_name(get_func_namespace(function)), get_func_name(function));
}

/* "f(value, typmod[, false])": a cast or length coercion function taking the
 * typmod, and isExplicit = false as an assignment passes it. */
char *
call_with_typmod(Oid function, const char *value, int32 typmod)
{
	int nargs = get_func_nargs(function);
	return psprintf("%s(%s, %d%s)", function_sql(function), value, typmod, nargs >= 3 ? ", false" : "");
}

} // namespace

const char *
assignment_cast_sql(const char *value_sql, Oid source_type, int32 source_typmod, Oid target_type, int32 target_typmod,
                    Oid collation, const char *column)
{
	const char *expr = value_sql;
	if (source_type != target_type || (target_typmod >= 0 && source_typmod != target_typmod)) {
		if (!can_coerce_type(1, &source_type, &target_type, COERCION_ASSIGNMENT))
			ereport(ERROR,
			        (errcode(ERRCODE_DATATYPE_MISMATCH),
			         errmsg("column \"%s\" is of type %s but expression is of type %s", column,
			                format_type_be(target_type), format_type_be(source_type)),
			         errdetail("INSERT would refuse the staging table's column: there is no assignment cast between "
			                   "the two types."),
			         errhint("Give the staging column the type of the column it is loaded into, or precheck a copy "
			                 "holding the values your load inserts (CREATE TABLE ... AS SELECT %s::%s ...).",
			                 quote_identifier(column), format_type_be(target_type))));

		/* A domain's typmod is its base type's (the column's own is -1). */
		int32 base_typmod = target_typmod;
		Oid base = getBaseTypeAndTypmod(target_type, &base_typmod);
		Oid function = InvalidOid;
		bool typmod_applied = false;
		switch (find_coercion_pathway(base, source_type, COERCION_ASSIGNMENT, &function)) {
		case COERCION_PATH_RELABELTYPE:
		case COERCION_PATH_COERCEVIAIO:
			/* the same relabelling or I/O conversion an explicit cast does */
			expr = psprintf("(%s)::%s", expr, type_sql(base));
			break;
		case COERCION_PATH_FUNC:
			if (get_func_nargs(function) >= 2) {
				/* the cast function takes the typmod itself (int4 to bit(n), say) */
				expr = call_with_typmod(function, expr, base_typmod);
				typmod_applied = true;
			} else
				expr = psprintf("(%s)::%s", expr, type_sql(base));
			break;
		case COERCION_PATH_ARRAYCOERCE:
		case COERCION_PATH_NONE:
			if (getBaseType(source_type) != base)
				ereport(ERROR, (errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				                errmsg("fk_precheck cannot convert the staging column \"%s\" from %s to %s", column,
				                       format_type_be(source_type), format_type_be(target_type)),
				                errdetail("Converting arrays element by element is not supported."),
				                errhint("Give the staging column the type of the column it is loaded into.")));
			break; /* the same base type: only the typmod and the domain */
		}
		bool same_typmod = getBaseType(source_type) == base && source_typmod == base_typmod;
		if (base_typmod >= 0 && !typmod_applied && !same_typmod) {
			Oid length_function = InvalidOid;
			if (find_typmod_coercion_function(base, &length_function) == COERCION_PATH_FUNC)
				expr = call_with_typmod(length_function, expr, base_typmod);
		}
		if (base != target_type)
			expr = psprintf("(%s)::%s", expr, type_sql(target_type));
	}
	if (OidIsValid(collation))
		expr = psprintf("(%s) COLLATE %s", expr, generate_collation_name(collation));
	return expr;
}

} // namespace fkg
