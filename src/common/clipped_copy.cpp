/*
 * clipped_copy.cpp
 *    Encoding-aware cutting of text copied into fixed-size fields (see clipped_copy.h).
 */
#include "common/clipped_copy.h"

extern "C" {
#include "postgres.h"
#include "mb/pg_wchar.h"
}

#include <algorithm>
#include <cstring>

namespace fkg {

void
copy_clipped(char *buf, size_t n, const char *text, size_t length) noexcept
{
	size_t len = text ? strnlen(text, std::min(length, n)) : 0;
	if (len > 0)
		len = std::min(len, static_cast<size_t>(pg_mbcliplen(text, static_cast<int>(len), static_cast<int>(n - 1))));
	if (len > 0)
		memcpy(buf, text, len);
	buf[len] = '\0';
}

} // namespace fkg
