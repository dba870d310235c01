/*
 * caught_error.cpp
 *    Which SQLSTATE and message a C++ exception becomes at the boundary.
 *    Uses only PostgreSQL's header macros, so it is unit tested without a server.
 */
#include "common/pg_boundary.h"

#include <cstdio>

namespace fkg {

static void
set_caught(CaughtError *out, int sqlstate, const char *message) noexcept
{
	out->sqlstate = sqlstate;
	(void) std::snprintf(out->message, sizeof(out->message), "%s", message); /* truncates, as it should */
}

/* Must be called from inside a catch block: classifies the exception being handled. */
void
record_exception(CaughtError *out) noexcept
{
	try {
		throw;
	} catch (const Error &e) {
		set_caught(out, e.sqlstate(), e.what());
	} catch (const std::bad_alloc &) {
		set_caught(out, ERRCODE_OUT_OF_MEMORY, "out of memory");
	} catch (const std::exception &e) {
		set_caught(out, ERRCODE_INTERNAL_ERROR, e.what());
	} catch (...) {
		set_caught(out, ERRCODE_INTERNAL_ERROR, "unknown C++ exception");
	}
}

} // namespace fkg
