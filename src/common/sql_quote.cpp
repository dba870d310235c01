/*
 * sql_quote.cpp
 *    Quoting for SQL that fk_guard writes (see sql_quote.h).  No PostgreSQL calls.
 */
#include "common/sql_quote.h"

namespace fkg::sql {

std::string
quote_ident(const char *name)
{
	std::string out = "\"";
	for (const char *p = name; *p; p++) {
		if (*p == '"')
			out += '"';
		out += *p;
	}
	out += '"';
	return out;
}

std::string
qualified_name(const char *schema, const char *name)
{
	return quote_ident(schema) + "." + quote_ident(name);
}

std::string
quote_literal(const char *text)
{
	bool has_backslash = false;
	std::string body;
	for (const char *p = text; *p; p++) {
		if (*p == '\'' || *p == '\\')
			body += *p;
		has_backslash |= (*p == '\\');
		body += *p;
	}
	return (has_backslash ? "E'" : "'") + body + "'";
}

} // namespace fkg::sql
