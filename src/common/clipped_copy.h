/*
 * clipped_copy.h
 *    Copying server text into fk_guard's fixed-size fields, cut on a character
 *    boundary of the database encoding.
 */
#ifndef FK_GUARD_CLIPPED_COPY_H
#define FK_GUARD_CLIPPED_COPY_H

#include <cstddef>
#include <cstdint>

namespace fkg {

/* Copies length bytes of text (or up to its NUL) into buf (size n > 0), cut
 * so that what is stored is as valid as what PostgreSQL gave.  Safe in error
 * recovery: pg_mbcliplen neither allocates nor raises. */
void copy_clipped(char *buf, size_t n, const char *text, size_t length = SIZE_MAX) noexcept;

} // namespace fkg

#endif /* FK_GUARD_CLIPPED_COPY_H */
