/*
 * violation_classify.h
 *    What a foreign-key violation is, and how it is told: classification of
 *    PostgreSQL's RI errors, the fix hint, and the text and JSON log lines.
 *    Pure C++ (no PostgreSQL calls): unit tested without a server.
 */
#ifndef FK_GUARD_VIOLATION_CLASSIFY_H
#define FK_GUARD_VIOLATION_CLASSIFY_H

#include "capture/violation_event.h"

#include <cstddef>
#include <string>

namespace fkg {

/* True when (sqlstate, source file) come from PostgreSQL's own RI code, as
 * opposed to 23503 re-raised by an FDW or by RAISE ... USING ERRCODE.  The
 * caller says whether the SQLSTATE is one RI raises (compat.h:
 * is_ri_violation_sqlstate). */
bool is_ri_error(bool is_foreign_key_violation, const char *filename);

/* The side of a violation, from the error's untranslated message format
 * (ErrorData.message_id) and whether its DETAIL is the MATCH FULL one.
 * Returns false when the message is not one of the RI violation messages. */
bool classify_side(const char *message_id, bool match_full_detail, Side *side);

/* Finds the "(cols)=(vals)" part of a DETAIL such as
 * `Key (customer_id)=(9842) is not present in table "customers".`: its start
 * and length in detail; false when PostgreSQL left the key out.  Never
 * allocates: safe on error paths. */
bool find_key(const char *detail, const char **start, size_t *length) noexcept;

/* find_key's key copied into buf (size n), cut on a UTF-8 character boundary;
 * empty when there is none.  The server cuts in the database encoding instead
 * (violation_capture.cpp). */
void key_from_detail(char *buf, size_t n, const char *detail) noexcept;

/* Writes into buf the first or last double-quoted name in text (the referenced
 * table of a parent-side message or of a child-side DETAIL).  Never allocates. */
void quoted_name(char *buf, size_t n, const char *text, bool last) noexcept;

/* Operation's bit in a set of operations (what a statement performs). */
constexpr unsigned
operation_bit(Operation operation)
{
	switch (operation) {
	case Operation::Insert:
		return 1u << 0;
	case Operation::Update:
		return 1u << 1;
	case Operation::Delete:
		return 1u << 2;
	case Operation::Merge:
		return 1u << 3;
	case Operation::Copy:
		return 1u << 4;
	case Operation::Commit:
		return 1u << 5;
	case Operation::Prepare:
		return 1u << 6;
	case Operation::SetConstraints:
		return 1u << 7;
	case Operation::AlterTable:
		return 1u << 8;
	case Operation::Other:
		break;
	}
	return 1u << 9;
}

/* The operation a violation on this side is recorded under, of those a
 * statement performs (operation_bit()s): the only one, or the one that can
 * raise it. */
Operation operation_of(unsigned operations, Side side);

const char *side_name(Side side);
const char *operation_name(Operation operation);

/* The fix for this case, as a sentence. */
std::string fix_hint(const ViolationEvent &event);

/*
 * One log line, whole (never cut: the event's fields are bounded already);
 * recent is the constraint's violations in the last minute.
 *
 * Text: `fk_guard: foreign key violation:` then ` name=value` fields.  Values
 * from data or names are always quoted with json_string's escapes, so they can
 * neither fake a field nor start a line; fixed-vocabulary values (side,
 * booleans, numbers, operation) are bare, except an operation holding a space
 * ("SET CONSTRAINTS"), quoted as logfmt does.  The key field is left out when
 * PostgreSQL hid the key.  JSON: one object.
 *
 * utf8: the database encoding is UTF8 (see json_string).
 */
std::string log_line_text(const ViolationEvent &event, int64_t recent, bool utf8);
std::string log_line_json(const ViolationEvent &event, int64_t recent, bool utf8);

/* The hint, written into buf (size n > 0) for callers that must not hold C++
 * objects or see exceptions; false (and buf empty) on failure. */
bool render_fix_hint(const ViolationEvent &event, char *buf, size_t n) noexcept;

/*
 * A JSON string literal, with its quotes, in which nothing but well-formed
 * UTF-8 is left unescaped above 0x7E: `"` and `\` are backslash-escaped;
 * newline, CR and tab are \n \r \t; every other control character (C0, DEL,
 * C1) and U+2028/U+2029 are \uXXXX.  With utf8, well-formed UTF-8 passes
 * through and each byte of an ill-formed sequence becomes \u00XX; without
 * (SQL_ASCII, LATIN1, any other database encoding) every byte >= 0x80 becomes
 * \u00XX, so the literal is pure ASCII.  NULL is the empty string.
 */
std::string json_string(const char *text, bool utf8 = true);
void append_json_string(std::string &out, const char *text, bool utf8);
/* Text log-line fields: ` name="escaped value"` (any text), and ` name=value` (a fixed vocabulary). */
void append_field(std::string &line, const char *name, const char *value, bool utf8);
void append_bare(std::string &line, const char *name, const std::string &value);

/* Copies text into buf (size n, n > 0), truncating on a UTF-8 character
 * boundary; never throws. */
void copy_truncated(char *buf, size_t n, const char *text) noexcept;

} // namespace fkg

#endif /* FK_GUARD_VIOLATION_CLASSIFY_H */
