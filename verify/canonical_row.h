// How background verification writes a row down to hash it inside each database: one canonical
// text per PostgreSQL type family, so that two servers holding the same data agree whatever
// their version, settings or collations, and different data never does (docs/verification.md
// lists the forms and the decisions behind them). A row's text is its columns' texts, each
// quoted (NULL bare), joined by commas, hashed with md5 and cut to a signed 64-bit number; a
// range's digest is its row count and the *sum* of those numbers (verify/key_range.h). Only
// SQL text is made here; running it is the caller's.
// Not the inline comparator's hash (verify/row_hash.h): that one hashes rows cutover already
// holds, in process; this one must run inside PostgreSQL, which has md5 but no XXH3.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace cutover::verify {

struct Column {
  std::string name;  // as in the catalog
  // The type after domains (pg_type.typname of the base type: "numeric", "float8", "bytea",
  // "_numeric" for an array of numeric), which picks the canonical form.
  std::string base_type;
};

// "name" with embedded quotes doubled, as PostgreSQL's quote_ident always may.
std::string quote_identifier(std::string_view name);
// 'text' with embedded quotes doubled (standard_conforming_strings on).
std::string quote_literal(std::string_view text);

// The SQL expression of `column`'s canonical text (NULL when the value is NULL).
std::string canonical_column_sql(const Column& column);
// The SQL expression of a row's canonical text: every column's text, quoted, comma-joined.
std::string canonical_row_sql(const std::vector<Column>& columns);
// The SQL expression of a row's 64-bit hash (a bigint).
std::string row_hash_sql(const std::vector<Column>& columns);

// The session settings the canonical forms rely on (timestamps in UTC, ISO dates and
// intervals, hex bytea), to run on each connection before anything is hashed.
std::string canonical_session_sql();

}  // namespace cutover::verify
