/*
 * violation_classify.h
 *    What a foreign-key violation is, and how it is told: classification of
 *    PostgreSQL's RI errors, the fix hint, and the text and JSON log lines.
 *    Pure C++ (no PostgreSQL calls): unit tested without a server.
 */
#ifndef FK_GUARD_VIOLATION_CLASSIFY_H
#define FK_GUARD_VIOLATION_CLASSIFY_H

#include "violation_event.h"

#include <cstddef>
#include <string>

namespace fkg {

/* True when (sqlstate, source file) come from PostgreSQL's own RI code, as
 * opposed to 23503 re-raised by an FDW or by RAISE ... USING ERRCODE. */
bool is_ri_error(bool is_foreign_key_violation, const char *filename);

/* The side of a violation, from the error's untranslated message format
 * (ErrorData.message_id) and whether its DETAIL is the MATCH FULL one.
 * Returns false when the message is not one of the RI violation messages. */
bool classify_side(const char *message_id, bool match_full_detail, Side *side);

/* Writes into buf (size n) the "(cols)=(vals)" part of a DETAIL such as
 * `Key (customer_id)=(9842) is not present in table "customers".`; empty when
 * PostgreSQL left the key out.  Never allocates: safe on error paths. */
void key_from_detail(char *buf, size_t n, const char *detail) noexcept;

/* Writes into buf the first or last double-quoted name in text (the referenced
 * table of a parent-side message or of a child-side DETAIL).  Never allocates. */
void quoted_name(char *buf, size_t n, const char *text, bool last) noexcept;

const char *side_name(Side side);
const char *operation_name(Operation operation);

/* The fix for this case, as a sentence. */
std::string fix_hint(const ViolationEvent &event);

/* One log line; recent is the constraint's violations in the last minute. */
std::string log_line_text(const ViolationEvent &event, int64_t recent);
std::string log_line_json(const ViolationEvent &event, int64_t recent);

/* The log line or the hint, written into buf (size n > 0) for callers that must
 * not hold C++ objects or see exceptions; false (and buf empty) on failure. */
bool render_log_line(const ViolationEvent &event, bool json, int64_t recent, char *buf, size_t n) noexcept;
bool render_fix_hint(const ViolationEvent &event, char *buf, size_t n) noexcept;

/* JSON string literal (with quotes) for UTF-8 text. */
std::string json_string(const char *text);

/* Copies text into buf (size n, n > 0), truncating on a UTF-8 character
 * boundary; never throws. */
void copy_truncated(char *buf, size_t n, const char *text) noexcept;

} // namespace fkg

#endif /* FK_GUARD_VIOLATION_CLASSIFY_H */
