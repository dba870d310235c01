/*
 * violation_classify.cpp
 *    Classification, hints and log lines for foreign-key violations.
 *
 * The message formats below are PostgreSQL 15's (src/backend/utils/adt/ri_triggers.c);
 * they are the one place to change when a version words them differently.
 */
#include "violation_classify.h"

#include <algorithm>
#include <cstring>

namespace fkg {

namespace {

const char *const kChildMessage = "insert or update on table \"%s\" violates foreign key constraint \"%s\"";
const char *const kParentMessage = "update or delete on table \"%s\" violates foreign key constraint \"%s\" on table \"%s\"";
const char *const kPartitionMessage = "removing partition \"%s\" violates foreign key constraint \"%s\"";

bool
ends_with(const char *text, const char *suffix)
{
	size_t n = std::strlen(text), m = std::strlen(suffix);
	return n >= m && std::strcmp(text + n - m, suffix) == 0;
}

std::string
table_with_columns(const char *table, const char *columns)
{
	return *columns ? std::string(table) + "(" + columns + ")" : std::string(table);
}

std::string
json_array_of_columns(const char *columns)
{
	/* columns is "a, b": quote_identifier'd names joined by ", ". */
	std::string out = "[";
	const char *start = columns;
	bool first = true;
	while (*start) {
		const char *end = std::strstr(start, ", ");
		std::string name = end ? std::string(start, end - start) : std::string(start);
		out += (first ? "" : ",") + json_string(name.c_str());
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
	else if (std::strcmp(message_id, kParentMessage) == 0)
		*side = Side::Parent;
	else if (std::strcmp(message_id, kPartitionMessage) == 0)
		*side = Side::Partition;
	else
		return false;
	return true;
}

void
key_from_detail(char *buf, size_t n, const char *detail) noexcept
{
	/* The key is "(" columns ")=(" values ")"; values may contain parentheses
	 * and quotes, so match the parentheses that close each group. */
	buf[0] = '\0';
	const char *open = detail ? std::strchr(detail, '(') : nullptr;
	if (open == nullptr)
		return;
	const char *p = open;
	for (int group = 0; group < 2; group++) {
		if (*p != '(')
			return;
		int depth = 0;
		for (; *p; p++) {
			if (*p == '(')
				depth++;
			else if (*p == ')' && --depth == 0)
				break;
		}
		if (*p != ')')
			return;
		p++;
		if (group == 0) {
			if (*p != '=')
				return;
			p++;
		}
	}
	size_t len = std::min(static_cast<size_t>(p - open), n - 1);
	std::memcpy(buf, open, len);
	buf[len] = '\0';
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

std::string
log_line_text(const ViolationEvent &event, int64_t recent)
{
	const ConstraintInfo &info = event.info;
	std::string line = "fk_guard: foreign key violation: constraint \"";
	line += *info.declared_name ? info.declared_name : event.constraint_name;
	line += "\" " + table_with_columns(info.child_table, info.fk_columns) + " -> " +
	        table_with_columns(info.parent_table, info.parent_columns);
	line += std::string("; side=") + side_name(event.side) + " operation=" + operation_name(event.operation);
	line += std::string(" at_commit=") + boolean(event.deferred) + " deferrable=" + boolean(info.deferrable) +
	        " initially_deferred=" + boolean(info.initially_deferred) + " handled=" + boolean(event.handled);
	if (*event.key)
		line += std::string(" key=") + event.key;
	line += std::string(" database=") + event.database_name + " user=" + event.user_name +
	        " application_name=" + json_string(event.application_name) + " pid=" + std::to_string(event.pid) +
	        " violations_last_minute=" + std::to_string(recent);
	line += " query=" + json_string(event.query);
	line += " hint=" + json_string(fix_hint(event).c_str());
	return line;
}

std::string
log_line_json(const ViolationEvent &event, int64_t recent)
{
	const ConstraintInfo &info = event.info;
	std::string line = "{\"fk_guard\":\"violation\"";
	line += ",\"constraint\":" + json_string(*info.declared_name ? info.declared_name : event.constraint_name);
	line += ",\"child_table\":" + json_string(info.child_table);
	line += ",\"parent_table\":" + json_string(info.parent_table);
	line += ",\"fk_columns\":" + json_array_of_columns(info.fk_columns);
	line += ",\"parent_columns\":" + json_array_of_columns(info.parent_columns);
	line += std::string(",\"side\":\"") + side_name(event.side) + "\"";
	line += std::string(",\"operation\":\"") + operation_name(event.operation) + "\"";
	line += std::string(",\"at_commit\":") + boolean(event.deferred);
	line += std::string(",\"deferrable\":") + boolean(info.deferrable);
	line += std::string(",\"initially_deferred\":") + boolean(info.initially_deferred);
	line += std::string(",\"handled\":") + boolean(event.handled);
	line += ",\"key\":" + (*event.key ? json_string(event.key) : std::string("null"));
	line += ",\"query\":" + json_string(event.query);
	line += ",\"database\":" + json_string(event.database_name);
	line += ",\"user\":" + json_string(event.user_name);
	line += ",\"application_name\":" + json_string(event.application_name);
	line += ",\"pid\":" + std::to_string(event.pid);
	line += ",\"violations_last_minute\":" + std::to_string(recent);
	line += ",\"hint\":" + json_string(fix_hint(event).c_str());
	return line + "}";
}

std::string
json_string(const char *text)
{
	static const char *const hex = "0123456789abcdef";
	std::string out = "\"";
	for (const unsigned char *p = reinterpret_cast<const unsigned char *>(text); *p; p++) {
		switch (*p) {
		case '"':
			out += "\\\"";
			break;
		case '\\':
			out += "\\\\";
			break;
		case '\n':
			out += "\\n";
			break;
		case '\r':
			out += "\\r";
			break;
		case '\t':
			out += "\\t";
			break;
		default:
			if (*p < 0x20) {
				out += "\\u00";
				out += hex[*p >> 4];
				out += hex[*p & 0xf];
			} else
				out += static_cast<char>(*p);
		}
	}
	return out + "\"";
}

bool
render_log_line(const ViolationEvent &event, bool json, int64_t recent, char *buf, size_t n) noexcept
{
	try {
		copy_truncated(buf, n, (json ? log_line_json(event, recent) : log_line_text(event, recent)).c_str());
		return true;
	} catch (...) {
		buf[0] = '\0';
		return false;
	}
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
