/*
 * log_line_parsers.h
 *    Independent readers of fk_guard's log lines for the unit tests: a parser
 *    of the text line's name=value fields and a strict minimal JSON parser.
 *    Written from the formats' rules (README.md, RFC 8259), not from the
 *    renderer's code, so that a renderer slip shows up as a parse failure.
 */
#ifndef FK_GUARD_LOG_LINE_PARSERS_H
#define FK_GUARD_LOG_LINE_PARSERS_H

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace logparse {

/* How \uXXXX escapes decode: to UTF-8, or (for non-UTF-8 databases, where
 * every escaped code point is one byte of the original) to that byte. */
enum class Decode { Utf8, Bytes };

inline bool
valid_utf8(const std::string &s)
{
	for (size_t i = 0; i < s.size();) {
		unsigned char c = s[i];
		size_t n;
		uint32_t cp, min;
		if (c < 0x80) {
			i++;
			continue;
		} else if ((c & 0xE0) == 0xC0)
			n = 2, cp = c & 0x1F, min = 0x80;
		else if ((c & 0xF0) == 0xE0)
			n = 3, cp = c & 0x0F, min = 0x800;
		else if ((c & 0xF8) == 0xF0)
			n = 4, cp = c & 0x07, min = 0x10000;
		else
			return false;
		if (i + n > s.size())
			return false;
		for (size_t k = 1; k < n; k++) {
			if ((static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80)
				return false;
			cp = (cp << 6) | (s[i + k] & 0x3F);
		}
		if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
			return false;
		i += n;
	}
	return true;
}

inline void
append_utf8(std::string &out, uint32_t cp)
{
	if (cp < 0x80)
		out += static_cast<char>(cp);
	else if (cp < 0x800) {
		out += static_cast<char>(0xC0 | (cp >> 6));
		out += static_cast<char>(0x80 | (cp & 0x3F));
	} else if (cp < 0x10000) {
		out += static_cast<char>(0xE0 | (cp >> 12));
		out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
		out += static_cast<char>(0x80 | (cp & 0x3F));
	} else {
		out += static_cast<char>(0xF0 | (cp >> 18));
		out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
		out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
		out += static_cast<char>(0x80 | (cp & 0x3F));
	}
}

/* Reads a JSON string literal starting at s[i] == '"'; i ends after the closing quote. */
inline bool
read_string(const std::string &s, size_t &i, std::string *out, Decode decode)
{
	if (i >= s.size() || s[i] != '"')
		return false;
	i++;
	out->clear();
	while (i < s.size() && s[i] != '"') {
		unsigned char c = s[i];
		if (c < 0x20)
			return false; /* raw control characters are not JSON */
		if (c >= 0x80 && decode == Decode::Bytes)
			return false; /* a non-UTF-8 database's line must be pure ASCII */
		if (c != '\\') {
			*out += static_cast<char>(c);
			i++;
			continue;
		}
		if (++i >= s.size())
			return false;
		char e = s[i++];
		switch (e) {
		case '"':
		case '\\':
		case '/':
			*out += e;
			break;
		case 'n':
			*out += '\n';
			break;
		case 'r':
			*out += '\r';
			break;
		case 't':
			*out += '\t';
			break;
		case 'b':
			*out += '\b';
			break;
		case 'f':
			*out += '\f';
			break;
		case 'u': {
			if (i + 4 > s.size())
				return false;
			uint32_t cp = 0;
			for (int k = 0; k < 4; k++) {
				char h = s[i++];
				cp <<= 4;
				if (h >= '0' && h <= '9')
					cp |= h - '0';
				else if (h >= 'a' && h <= 'f')
					cp |= h - 'a' + 10;
				else if (h >= 'A' && h <= 'F')
					cp |= h - 'A' + 10;
				else
					return false;
			}
			if (cp >= 0xD800 && cp <= 0xDFFF)
				return false; /* the renderers never need surrogate pairs */
			if (decode == Decode::Bytes) {
				if (cp > 0xFF)
					return false;
				*out += static_cast<char>(cp);
			} else
				append_utf8(*out, cp);
			break;
		}
		default:
			return false;
		}
	}
	if (i >= s.size())
		return false;
	i++;
	return decode == Decode::Bytes || valid_utf8(*out);
}

/* A parsed JSON value (only what the log line needs to be checked). */
struct Json {
	enum Kind { Null, Bool, Number, String, Array, Object } kind = Null;
	std::string text;                                 /* String: decoded; Bool/Number: the token */
	std::vector<Json> items;                          /* Array */
	std::vector<std::pair<std::string, Json>> fields; /* Object, in order */

	const Json *
	get(const std::string &name) const
	{
		for (const auto &f : fields)
			if (f.first == name)
				return &f.second;
		return nullptr;
	}
};

inline void
skip_space(const std::string &s, size_t &i)
{
	while (i < s.size() && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r'))
		i++;
}

inline bool
read_value(const std::string &s, size_t &i, Json *out, Decode decode, int depth = 0)
{
	if (depth > 16)
		return false;
	skip_space(s, i);
	if (i >= s.size())
		return false;
	char c = s[i];
	if (c == '"') {
		out->kind = Json::String;
		return read_string(s, i, &out->text, decode);
	}
	if (c == '{' || c == '[') {
		bool object = c == '{';
		out->kind = object ? Json::Object : Json::Array;
		i++;
		skip_space(s, i);
		if (i < s.size() && s[i] == (object ? '}' : ']')) {
			i++;
			return true;
		}
		for (;;) {
			std::string name;
			if (object) {
				skip_space(s, i);
				if (!read_string(s, i, &name, decode))
					return false;
				skip_space(s, i);
				if (i >= s.size() || s[i++] != ':')
					return false;
			}
			Json item;
			if (!read_value(s, i, &item, decode, depth + 1))
				return false;
			if (object)
				out->fields.emplace_back(name, item);
			else
				out->items.push_back(item);
			skip_space(s, i);
			if (i >= s.size())
				return false;
			if (s[i] == ',') {
				i++;
				continue;
			}
			if (s[i++] != (object ? '}' : ']'))
				return false;
			return true;
		}
	}
	for (const char *word : {"true", "false", "null"})
		if (s.compare(i, std::string(word).size(), word) == 0) {
			out->kind = word[0] == 'n' ? Json::Null : Json::Bool;
			out->text = word;
			i += std::string(word).size();
			return true;
		}
	size_t start = i;
	if (i < s.size() && s[i] == '-')
		i++;
	while (i < s.size() && s[i] >= '0' && s[i] <= '9')
		i++;
	if (i == start || (s[start] == '-' && i == start + 1))
		return false;
	out->kind = Json::Number;
	out->text = s.substr(start, i - start);
	return true;
}

/* Parses a whole document: one value and nothing after it. */
inline bool
parse_json(const std::string &s, Json *out, Decode decode)
{
	size_t i = 0;
	if (!read_value(s, i, out, decode))
		return false;
	skip_space(s, i);
	return i == s.size();
}

using Fields = std::vector<std::pair<std::string, std::string>>;

/*
 * Parses a text line: the prefix, then " name=value" fields, where a name is
 * [a-z_]+ and a value is either bare ([A-Za-z0-9_.-]+) or a quoted JSON-style
 * string.  Values are decoded; quoted[k] says whether field k was quoted.
 */
inline bool
parse_text_line(const std::string &line, Fields *fields, std::vector<bool> *quoted, Decode decode)
{
	const std::string prefix = "fk_guard: foreign key violation:";
	if (line.compare(0, prefix.size(), prefix) != 0)
		return false;
	fields->clear();
	quoted->clear();
	size_t i = prefix.size();
	while (i < line.size()) {
		if (line[i++] != ' ')
			return false;
		size_t start = i;
		while (i < line.size() && ((line[i] >= 'a' && line[i] <= 'z') || line[i] == '_'))
			i++;
		if (i == start || i >= line.size() || line[i] != '=')
			return false;
		std::string name = line.substr(start, i - start);
		i++;
		std::string value;
		if (i < line.size() && line[i] == '"') {
			if (!read_string(line, i, &value, decode))
				return false;
			quoted->push_back(true);
		} else {
			start = i;
			while (i < line.size() &&
			       (isalnum(static_cast<unsigned char>(line[i])) || line[i] == '_' || line[i] == '.' || line[i] == '-'))
				i++;
			if (i == start)
				return false;
			value = line.substr(start, i - start);
			quoted->push_back(false);
		}
		fields->emplace_back(name, value);
	}
	return true;
}

} // namespace logparse

#endif /* FK_GUARD_LOG_LINE_PARSERS_H */
