/*
 * pg_boundary.h
 *    The single C++/PostgreSQL error boundary of fk_guard.
 *
 * PostgreSQL reports errors with siglongjmp; C++ reports them with exceptions.
 * Neither may cross the other's frames, so fk_guard follows one rule:
 *
 *   1. Every extern "C" entry point is a thin shell whose C++ body runs
 *      through fkg::invoke() (SQL-callable functions, declared with
 *      FKG_FUNCTION, and hooks that may raise) or fkg::invoke_quietly()
 *      (hooks and callbacks that must never raise).  invoke() catches every
 *      C++ exception and raises ereport(ERROR) only after the catch block has
 *      closed, so no C++ object is alive when the longjmp starts.
 *
 *   2. A C++ frame that calls into PostgreSQL (anything that may ereport:
 *      SPI, palloc, syscache, ...) holds only trivially destructible objects:
 *      PODs, palloc'd memory, StringInfo, List.  A longjmp over such a frame
 *      skips nothing.
 *
 *   3. Objects with destructors (std::string, containers) live only in pure
 *      C++ code that never calls PostgreSQL (src/orphans/orphan_query.cpp, unit
 *      tested without a server).  Their results cross into PostgreSQL memory
 *      through fkg::to_palloc(), which never longjmps: it reports failure as
 *      std::bad_alloc.
 *
 *   4. No PG_TRY block encloses code that may throw a C++ exception (the
 *      exception would leave PG_exception_stack pointing into a dead frame).
 *
 *   5. Data structures that must stay alive while PostgreSQL is called (the
 *      one-pass engine's key sets, held while it scans and calls hash and
 *      equality functions) are PODs over palloc'd memory of a dedicated
 *      memory context (src/orphans/key_set.h, one_pass.cpp): they are
 *      released by deleting that context, on success and after an error
 *      alike, never by a destructor.  Their memory comes through an
 *      allocator that reports failure (nullptr) instead of throwing; C++
 *      callables (lambdas capturing pointers and references) may be passed
 *      to their templates, as they are trivially destructible.
 */
#ifndef FK_GUARD_PG_BOUNDARY_H
#define FK_GUARD_PG_BOUNDARY_H

extern "C" {
#include "postgres.h"
#include "fmgr.h"
}

#include <cstring>
#include <new>
#include <stdexcept>
#include <string>

namespace fkg {

/* A C++ error carrying the SQLSTATE it should surface with. */
class Error : public std::runtime_error
{
public:
	Error(int sqlstate, const char *message) : std::runtime_error(message), sqlstate_(sqlstate) {}
	int
	sqlstate() const noexcept
	{
		return sqlstate_;
	}

private:
	int sqlstate_;
};

/* What a caught C++ exception becomes; fixed-size so that recording it cannot fail. */
struct CaughtError {
	int sqlstate;
	char message[256];
};

void record_exception(CaughtError *out) noexcept;
[[noreturn]] void raise_caught(const CaughtError *caught);

/* Copies text into the current memory context without ever longjmp'ing. */
char *to_palloc(const std::string &text);

/*
 * Runs an entry point's C++ body.  Any C++ exception becomes an ERROR that is
 * raised after the handler has returned; PostgreSQL errors raised inside the
 * body propagate untouched (the body holds no destructible objects, rule 2).
 */
template <typename Body>
Datum
invoke(Body &&body)
{
	CaughtError caught;
	try {
		return body();
	} catch (...) {
		record_exception(&caught);
	}
	raise_caught(&caught);
}

/*
 * For hooks and callbacks that must never raise (emit_log_hook, transaction
 * callbacks, error-path capture): a C++ exception is dropped, not reported.
 */
template <typename Body>
void
invoke_quietly(Body &&body) noexcept
{
	try {
		body();
	} catch (...) {
	}
}

} // namespace fkg

/*
 * Declares the SQL-callable function NAME as a C shell that runs NAME_impl
 * through the boundary.  NAME_impl(FunctionCallInfo) is written in C++ under
 * rule 2 above.
 */
#define FKG_FUNCTION(name)                                                                                             \
	static Datum name##_impl(FunctionCallInfo fcinfo);                                                                 \
	extern "C" {                                                                                                       \
	PG_FUNCTION_INFO_V1(name);                                                                                         \
	Datum                                                                                                              \
	name(PG_FUNCTION_ARGS)                                                                                             \
	{                                                                                                                  \
		return fkg::invoke([fcinfo]() { return name##_impl(fcinfo); });                                                \
	}                                                                                                                  \
	}                                                                                                                  \
	static Datum name##_impl(FunctionCallInfo fcinfo)

#endif /* FK_GUARD_PG_BOUNDARY_H */
