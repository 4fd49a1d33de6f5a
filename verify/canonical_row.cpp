#include "verify/canonical_row.h"

namespace cutover::verify {
namespace {

std::string doubled(std::string_view text, char quote) {
  std::string out(1, quote);
  for (char c : text) {
    if (c == quote) out.push_back(quote);
    out.push_back(c);
  }
  out.push_back(quote);
  return out;
}

// numeric's text keeps the scale it was stored with: 1.0 and 1.00 are the same number, and a
// migration that changes numeric(10,1) to numeric(10,2) keeps every value. The trailing zeros
// (and a dot left bare) are cut off; PostgreSQL 13's trim_scale() does that too, but old may be
// older.
std::string numeric_text(const std::string& value) {
  const std::string text = value + "::text";
  return "CASE WHEN " + text + " LIKE '%.%' THEN rtrim(rtrim(" + text + ", '0'), '.') ELSE " +
         text + " END";
}

}  // namespace

std::string quote_identifier(std::string_view name) { return doubled(name, '"'); }

std::string quote_literal(std::string_view text) { return doubled(text, '\''); }

std::string canonical_column_sql(const Column& column) {
  const std::string c = quote_identifier(column.name);
  const std::string& type = column.base_type;
  if (type == "numeric") return numeric_text(c);
  // money prints with lc_monetary's symbol and separators; its amount is what it holds.
  if (type == "money") return numeric_text("(" + c + ")::numeric");
  // A float's text depends on extra_float_digits and on the server's version (shortest exact
  // since 12, 17 digits before): its IEEE bytes do not. -0 and 0 differ, as their texts do.
  if (type == "float4" || type == "float8") return "encode(float8send(" + c + "::float8), 'hex')";
  // Any size: hashed where it lies rather than printed as hex twice its size.
  if (type == "bytea") return "md5(" + c + ")";
  // Every other family (text of any collation, timestamps and intervals under
  // canonical_session_sql(), json as written, jsonb as normalised, arrays, composites,
  // ranges, enums) is exactly its text output.
  return c + "::text";
}

std::string canonical_row_sql(const std::vector<Column>& columns) {
  if (columns.empty()) return "''";
  // quote_nullable() writes NULL bare and every value quoted (quotes and backslashes escaped),
  // so no two rows share a text; a third faster than length-prefixing each value.
  // VARIADIC: a function call takes at most 100 arguments, a table up to 1,600 columns.
  std::string row = "concat_ws(',', VARIADIC ARRAY[";
  for (size_t i = 0; i < columns.size(); ++i) {
    row.append(i > 0 ? ", " : "").append("quote_nullable(");
    row.append(canonical_column_sql(columns[i])).append(")");
  }
  return row + "]::text[])";
}

std::string row_hash_sql(const std::vector<Column>& columns) {
  return "('x' || left(md5(" + canonical_row_sql(columns) + "), 16))::bit(64)::bigint";
}

std::string canonical_session_sql() {
  return "SET TimeZone = 'UTC'; SET DateStyle = 'ISO, YMD'; SET IntervalStyle = 'iso_8601'; "
         "SET bytea_output = 'hex'; SET extra_float_digits = 3; "
         "SET standard_conforming_strings = on";
}

}  // namespace cutover::verify
