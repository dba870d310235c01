/*
 * violation_classify.cpp
 *    Classification, hints and log lines for foreign-key violations.
 *
 * The message formats below are ri_triggers.c's (src/backend/utils/adt/ri_triggers.c,
 * PostgreSQL 15 to 18); they are the one place to change when a version words
 * them differently.  Formats a version does not have are simply never seen.
 */
#include "capture/violation_classify.h"

#include <algorithm>
#include <initializer_list>
#include <cstring>

namespace fkg {

namespace {

const char *const kChildMessage = "insert or update on table \"%s\" violates foreign key constraint \"%s\"";
const char *const kParentMessage =
	"update or delete on table \"%s\" violates foreign key constraint \"%s\" on table \"%s\"";
/* PostgreSQL 18 reports the referenced side of a RESTRICT key with its own
 * message (and SQLSTATE 23001: see compat::is_ri_violation_sqlstate). */
const char *const kRestrictMessage =
	"update or delete on table \"%s\" violates RESTRICT setting of foreign key constraint \"%s\" on table \"%s\"";
const char *const kPartitionMessage = "removing partition \"%s\" violates foreign key constraint \"%s\"";

bool
ends_with(const char *text, const char *suffix)
{
	size_t n = std::strlen(text), m = std::strlen(suffix);
	return n >= m && std::strcmp(text + n - m, suffix) == 0;
}

std::string
json_array_of_columns(const char *columns, bool utf8)
{
	/* columns is "a, b": quote_identifier'd names joined by ", ". */
	std::string out = "[";
	const char *start = columns;
	bool first = true;
	while (*start) {
		const char *end = std::strstr(start, ", ");
		std::string name = end ? std::string(start, end - start) : std::string(start);
		out += (first ? "" : ",") + json_string(name.c_str(), utf8);
		first = false;
		if (!end)
			break;
		start = end + 2;
	}
	return out + "]";
}

const char *
boolean(bool value)
{
	return value ? "true" : "false";
}

} // namespace

bool
is_ri_error(bool is_foreign_key_violation, const char *filename)
{
	return is_foreign_key_violation && filename != nullptr && ends_with(filename, "ri_triggers.c");
}

bool
classify_side(const char *message_id, bool match_full_detail, Side *side)
{
	if (message_id == nullptr)
		return false;
	if (std::strcmp(message_id, kChildMessage) == 0)
		*side = match_full_detail ? Side::MatchFull : Side::Child;
	else if (std::strcmp(message_id, kParentMessage) == 0 || std::strcmp(message_id, kRestrictMessage) == 0)
		*side = Side::Parent;
	else if (std::strcmp(message_id, kPartitionMessage) == 0)
		*side = Side::Partition;
	else
		return false;
	return true;
}

bool
find_key(const char *detail, const char **start, size_t *length) noexcept
{
	/*
	 * The key is "(" columns ")=(" values ")", followed by the table name in
	 * double quotes: `Key (a)=(1) is not present in table "p".`.  Values are
	 * data: they may hold unbalanced parentheses, quotes and any text, so the
	 * key's end is found from the right: the last ')' before the quoted table
	 * name (before the last two '"'; a translated message without them: the
	 * last ')').  Only a table name holding '"' or ')' could mislead it.
	 */
	const char *open = detail ? std::strchr(detail, '(') : nullptr;
	if (open == nullptr)
		return false;
	const char *limit = detail + std::strlen(detail);
	const char *close_quote = std::strrchr(detail, '"');
	if (close_quote != nullptr) {
		const char *open_quote = close_quote;
		while (open_quote > detail && *--open_quote != '"')
			;
		if (open_quote != close_quote && *open_quote == '"')
			limit = open_quote;
	}
	const char *close = limit;
	while (close > open && *--close != ')')
		;
	if (close <= open || *close != ')')
		return false;
	const char *separator = std::strstr(open, ")=(");
	if (separator == nullptr || separator + 2 > close)
		return false;
	*start = open;
	*length = static_cast<size_t>(close + 1 - open);
	return true;
}

void
key_from_detail(char *buf, size_t n, const char *detail) noexcept
{
	const char *start;
	size_t length;
	buf[0] = '\0';
	if (find_key(detail, &start, &length)) {
		/* copy_truncated needs the key alone: copy it, cut on a character boundary. */
		size_t len = length;
		if (len >= n) {
			len = n - 1;
			while (len > 0 && (static_cast<unsigned char>(start[len]) & 0xC0) == 0x80)
				len--;
		}
		std::memcpy(buf, start, len);
		buf[len] = '\0';
	}
}

void
quoted_name(char *buf, size_t n, const char *text, bool last) noexcept
{
	buf[0] = '\0';
	if (text == nullptr)
		return;
	const char *open, *close;
	if (last) {
		close = std::strrchr(text, '"');
		if (close == nullptr || close == text)
			return;
		open = close - 1;
		while (open > text && *open != '"')
			open--;
		if (*open != '"')
			return;
	} else {
		open = std::strchr(text, '"');
		close = open ? std::strchr(open + 1, '"') : nullptr;
		if (close == nullptr)
			return;
	}
	size_t len = std::min(static_cast<size_t>(close - open - 1), n - 1);
	std::memcpy(buf, open + 1, len);
	buf[len] = '\0';
}

/* The operation a violation on this side is recorded under, of those a
 * statement performs: the only one, or the one that can raise it (a
 * child-side violation comes from writing the child, a parent-side one from
 * changing the parent). */
Operation
operation_of(unsigned operations, Side side)
{
	static const Operation kChildFirst[] = {Operation::Insert, Operation::Update, Operation::Merge, Operation::Copy,
	                                        Operation::Delete};
	static const Operation kParentFirst[] = {Operation::Delete, Operation::Update, Operation::Merge, Operation::Insert,
	                                         Operation::Copy};
	const Operation *order = side == Side::Parent ? kParentFirst : kChildFirst;
	for (int i = 0; i < 5; i++)
		if (operations & operation_bit(order[i]))
			return order[i];
	for (Operation single : {Operation::Commit, Operation::Prepare, Operation::SetConstraints, Operation::AlterTable})
		if (operations & operation_bit(single))
			return single;
	return Operation::Other;
}

const char *
side_name(Side side)
{
	switch (side) {
	case Side::Child:
		return "child";
	case Side::Parent:
		return "parent";
	case Side::MatchFull:
		return "match_full";
	case Side::Partition:
		return "partition";
	}
	return "unknown";
}

const char *
operation_name(Operation operation)
{
	switch (operation) {
	case Operation::Insert:
		return "INSERT";
	case Operation::Update:
		return "UPDATE";
	case Operation::Delete:
		return "DELETE";
	case Operation::Merge:
		return "MERGE";
	case Operation::Copy:
		return "COPY";
	case Operation::Commit:
		return "COMMIT";
	case Operation::Prepare:
		return "PREPARE";
	case Operation::SetConstraints:
		return "SET CONSTRAINTS";
	case Operation::AlterTable:
		return "ALTER TABLE";
	case Operation::Other:
		return "OTHER";
	}
	return "OTHER";
}

std::string
fix_hint(const ViolationEvent &event)
{
	const ConstraintInfo &info = event.info;
	const std::string parent = *info.parent_table ? info.parent_table : "the referenced table";
	const std::string child = *info.child_table ? info.child_table : "the referencing table";
	switch (event.side) {
	case Side::MatchFull:
		return "Set every column of the foreign key or none of them: MATCH FULL rejects a partly null key.";
	case Side::Partition:
		return "Delete or re-point the rows of " + child + " that reference the partition before removing it.";
	case Side::Parent:
		return "Delete or re-point the referencing rows in " + child +
		       " first, or give the foreign key an ON DELETE / ON UPDATE action (CASCADE, SET NULL).";
	case Side::Child:
		break;
	}
	if (event.operation == Operation::AlterTable)
		return "Repair or delete the orphaned rows first; SELECT * FROM fk_orphans('" + child + "') lists them.";
	if (event.deferred || info.deferrable)
		return "Insert the referenced row in " + parent + " in the same transaction, before it commits.";
	return "Insert the referenced row in " + parent +
	       " first, or make the constraint DEFERRABLE and load parent and child rows in one transaction.";
}

namespace {

/* Length of the well-formed UTF-8 sequence at p and its code point; 0 when
 * the bytes are not one (overlong, surrogate, beyond U+10FFFF, cut short). */
size_t
utf8_sequence(const unsigned char *p, uint32_t *code_point)
{
	size_t length;
	uint32_t cp;
	unsigned char low = 0x80, high = 0xBF;
	if (*p >= 0xC2 && *p <= 0xDF)
		length = 2, cp = *p & 0x1F;
	else if (*p >= 0xE0 && *p <= 0xEF) {
		length = 3, cp = *p & 0x0F;
		if (*p == 0xE0)
			low = 0xA0;
		else if (*p == 0xED)
			high = 0x9F;
	} else if (*p >= 0xF0 && *p <= 0xF4) {
		length = 4, cp = *p & 0x07;
		if (*p == 0xF0)
			low = 0x90;
		else if (*p == 0xF4)
			high = 0x8F;
	} else
		return 0;
	for (size_t i = 1; i < length; i++) {
		if (p[i] < low || p[i] > high)
			return 0;
		cp = (cp << 6) | (p[i] & 0x3F);
		low = 0x80, high = 0xBF;
	}
	*code_point = cp;
	return length;
}

void
append_escape(std::string &out, uint32_t code_point)
{
	static const char *const hex = "0123456789abcdef";
	out += "\\u";
	for (int shift = 12; shift >= 0; shift -= 4)
		out += hex[(code_point >> shift) & 0xF];
}

} // namespace

/* The text line's value for a quoted field: name="escaped value". */
void
append_field(std::string &line, const char *name, const char *value, bool utf8)
{
	line += ' ';
	line += name;
	line += '=';
	append_json_string(line, value, utf8);
}

/* A field of fixed vocabulary (side, operation, booleans, numbers): name=value, bare. */
void
append_bare(std::string &line, const char *name, const std::string &value)
{
	line += ' ';
	line += name;
	line += '=';
	line += value;
}

void
append_json_string(std::string &out, const char *text, bool utf8)
{
	out += '"';
	const unsigned char *p = reinterpret_cast<const unsigned char *>(text ? text : "");
	while (*p) {
		unsigned char c = *p;
		if (c == '"' || c == '\\') {
			out += '\\';
			out += static_cast<char>(c);
		} else if (c == '\n')
			out += "\\n";
		else if (c == '\r')
			out += "\\r";
		else if (c == '\t')
			out += "\\t";
		else if (c < 0x20 || c == 0x7F)
			append_escape(out, c);
		else if (c >= 0x80) {
			uint32_t cp = 0;
			size_t length = utf8 ? utf8_sequence(p, &cp) : 0;
			if (length == 0)
				append_escape(out, c); /* not UTF-8 (or not a UTF-8 database): the byte itself */
			else {
				/* C1 controls and the Unicode line separators break lines in some viewers. */
				if (cp <= 0x9F || cp == 0x2028 || cp == 0x2029)
					append_escape(out, cp);
				else
					out.append(reinterpret_cast<const char *>(p), length);
				p += length;
				continue;
			}
		} else
			out += static_cast<char>(c);
		p++;
	}
	out += '"';
}

std::string
json_string(const char *text, bool utf8)
{
	std::string out;
	append_json_string(out, text, utf8);
	return out;
}

std::string
log_line_text(const ViolationEvent &event, int64_t recent, bool utf8)
{
	const ConstraintInfo &info = event.info;
	std::string line = "fk_guard: foreign key violation:";
	append_field(line, "constraint", *info.declared_name ? info.declared_name : event.constraint_name, utf8);
	append_field(line, "child_table", info.child_table, utf8);
	append_field(line, "fk_columns", info.fk_columns, utf8);
	append_field(line, "parent_table", info.parent_table, utf8);
	append_field(line, "parent_columns", info.parent_columns, utf8);
	if (*info.child_partition)
		append_field(line, "child_partition", info.child_partition, utf8);
	if (*info.parent_partition)
		append_field(line, "parent_partition", info.parent_partition, utf8);
	append_bare(line, "side", side_name(event.side));
	/* "SET CONSTRAINTS" and "ALTER TABLE" hold a space: quoted, as in logfmt. */
	const char *operation = operation_name(event.operation);
	if (std::strchr(operation, ' '))
		append_field(line, "operation", operation, utf8);
	else
		append_bare(line, "operation", operation);
	append_bare(line, "at_commit", boolean(event.deferred));
	append_bare(line, "deferrable", boolean(info.deferrable));
	append_bare(line, "initially_deferred", boolean(info.initially_deferred));
	append_bare(line, "handled", boolean(event.handled));
	if (*event.key)
		append_field(line, "key", event.key, utf8);
	append_field(line, "database", event.database_name, utf8);
	append_field(line, "user", event.user_name, utf8);
	append_field(line, "application_name", event.application_name, utf8);
	append_bare(line, "pid", std::to_string(event.pid));
	append_bare(line, "violations_last_minute", std::to_string(recent));
	append_field(line, "query", event.query, utf8);
	append_field(line, "hint", fix_hint(event).c_str(), utf8);
	return line;
}

std::string
log_line_json(const ViolationEvent &event, int64_t recent, bool utf8)
{
	const ConstraintInfo &info = event.info;
	std::string line = "{\"fk_guard\":\"violation\"";
	line += ",\"constraint\":" + json_string(*info.declared_name ? info.declared_name : event.constraint_name, utf8);
	line += ",\"child_table\":" + json_string(info.child_table, utf8);
	line += ",\"parent_table\":" + json_string(info.parent_table, utf8);
	line += ",\"fk_columns\":" + json_array_of_columns(info.fk_columns, utf8);
	line += ",\"parent_columns\":" + json_array_of_columns(info.parent_columns, utf8);
	if (*info.child_partition)
		line += ",\"child_partition\":" + json_string(info.child_partition, utf8);
	if (*info.parent_partition)
		line += ",\"parent_partition\":" + json_string(info.parent_partition, utf8);
	line += std::string(",\"side\":\"") + side_name(event.side) + "\"";
	line += std::string(",\"operation\":\"") + operation_name(event.operation) + "\"";
	line += std::string(",\"at_commit\":") + boolean(event.deferred);
	line += std::string(",\"deferrable\":") + boolean(info.deferrable);
	line += std::string(",\"initially_deferred\":") + boolean(info.initially_deferred);
	line += std::string(",\"handled\":") + boolean(event.handled);
	line += ",\"key\":" + (*event.key ? json_string(event.key, utf8) : std::string("null"));
	line += ",\"query\":" + json_string(event.query, utf8);
	line += ",\"database\":" + json_string(event.database_name, utf8);
	line += ",\"user\":" + json_string(event.user_name, utf8);
	line += ",\"application_name\":" + json_string(event.application_name, utf8);
	line += ",\"pid\":" + std::to_string(event.pid);
	line += ",\"violations_last_minute\":" + std::to_string(recent);
	line += ",\"hint\":" + json_string(fix_hint(event).c_str(), utf8);
	return line + "}";
}

bool
render_fix_hint(const ViolationEvent &event, char *buf, size_t n) noexcept
{
	try {
		copy_truncated(buf, n, fix_hint(event).c_str());
		return true;
	} catch (...) {
		buf[0] = '\0';
		return false;
	}
}

void
copy_truncated(char *buf, size_t n, const char *text) noexcept
{
	if (text == nullptr) {
		buf[0] = '\0';
		return;
	}
	size_t len = std::strlen(text);
	if (len >= n) {
		len = n - 1;
		/* Back up to the start of a UTF-8 character. */
		while (len > 0 && (static_cast<unsigned char>(text[len]) & 0xC0) == 0x80)
			len--;
	}
	std::memcpy(buf, text, len);
	buf[len] = '\0';
}

} // namespace fkg
