/*
 * pg_boundary.cpp
 *    Raising caught C++ exceptions as PostgreSQL errors (see pg_boundary.h for the rule).
 *    Which SQLSTATE an exception becomes is decided in caught_error.cpp.
 */
#include "common/pg_boundary.h"

#include <cstdio>

extern "C" {
#include "utils/memutils.h"
}

namespace fkg {

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
