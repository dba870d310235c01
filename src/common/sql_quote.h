/*
 * sql_quote.h
 *    Quoting for SQL that fk_guard writes itself (pure C++, unit tested).
 *    Named apart from PostgreSQL's quote_identifier(), which quotes only when
 *    needed and returns a C string: these always quote.
 */
#ifndef FK_GUARD_SQL_QUOTE_H
#define FK_GUARD_SQL_QUOTE_H

#include <string>

namespace fkg::sql {

/* "name" with embedded quotes doubled: always valid, whatever the name. */
std::string quote_ident(const char *name);

/* "schema"."name", both always quoted. */
std::string qualified_name(const char *schema, const char *name);

/* A string literal that reads the same whatever standard_conforming_strings says. */
std::string quote_literal(const char *text);

} // namespace fkg::sql

#endif /* FK_GUARD_SQL_QUOTE_H */
