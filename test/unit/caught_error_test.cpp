/*
 * caught_error_test.cpp
 *    What a C++ exception becomes at the C++/PostgreSQL boundary (src/common/caught_error.cpp).
 */
/* gtest first: PostgreSQL's headers define macros (Max, Min) that gtest's own code uses as names. */
#include <gtest/gtest.h>

#include <string>

#include "common/pg_boundary.h"

namespace {

template <typename Thrower>
fkg::CaughtError
caught_from(Thrower thrower)
{
	fkg::CaughtError caught{};
	try {
		thrower();
	} catch (...) {
		fkg::record_exception(&caught);
	}
	return caught;
}

TEST(RecordException, KeepsTheSqlstateOfAnFkgError)
{
	auto caught = caught_from([] { throw fkg::Error(ERRCODE_INVALID_PARAMETER_VALUE, "limit must not be negative"); });
	EXPECT_EQ(caught.sqlstate, ERRCODE_INVALID_PARAMETER_VALUE);
	EXPECT_STREQ(caught.message, "limit must not be negative");
}

TEST(RecordException, TurnsBadAllocIntoOutOfMemory)
{
	auto caught = caught_from([] { throw std::bad_alloc(); });
	EXPECT_EQ(caught.sqlstate, ERRCODE_OUT_OF_MEMORY);
}

TEST(RecordException, TurnsOtherExceptionsIntoInternalErrors)
{
	auto standard = caught_from([] { throw std::runtime_error("boom"); });
	EXPECT_EQ(standard.sqlstate, ERRCODE_INTERNAL_ERROR);
	EXPECT_STREQ(standard.message, "boom");
	auto unknown = caught_from([] { throw 42; });
	EXPECT_EQ(unknown.sqlstate, ERRCODE_INTERNAL_ERROR);
	EXPECT_STREQ(unknown.message, "unknown C++ exception");
}

TEST(RecordException, TruncatesLongMessagesWithoutAllocating)
{
	const std::string long_message(1000, 'x');
	auto caught = caught_from([&] { throw std::runtime_error(long_message); });
	EXPECT_EQ(std::string(caught.message), long_message.substr(0, sizeof(caught.message) - 1));
}

} // namespace
