/*
 * pg_boundary.cpp
 *    Turning C++ exceptions into PostgreSQL errors (see pg_boundary.h for the rule).
 */
#include "pg_boundary.h"

#include <cstdio>

extern "C" {
#include "utils/memutils.h"
}

namespace fkg {

static void
set_caught(CaughtError *out, int sqlstate, const char *message) noexcept
{
	out->sqlstate = sqlstate;
	std::snprintf(out->message, sizeof(out->message), "%s", message);
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

void
raise_caught(const CaughtError *caught)
{
	ereport(ERROR, (errcode(caught->sqlstate), errmsg("fk_guard: %s", caught->message)));
	pg_unreachable();
}

char *
to_palloc(const std::string &text)
{
	if (text.size() >= MaxAllocSize)
		throw std::bad_alloc();
	char *copy = static_cast<char *>(palloc_extended(text.size() + 1, MCXT_ALLOC_NO_OOM));
	if (copy == nullptr)
		throw std::bad_alloc();
	std::memcpy(copy, text.c_str(), text.size() + 1);
	return copy;
}

} // namespace fkg
