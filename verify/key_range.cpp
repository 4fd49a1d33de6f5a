#include "verify/key_range.h"

#include <algorithm>

#include "verify/canonical_row.h"

namespace cutover::verify {
namespace {

std::string column_sql(const KeyColumn& column) {
  std::string sql = quote_identifier(column.name);
  if (!column.collation.empty()) sql += " COLLATE " + quote_identifier(column.collation);
  return sql;
}

std::string value_tuple_sql(const std::vector<KeyColumn>& key, const KeyValue& value) {
  std::string sql = "(";
  for (size_t i = 0; i < key.size(); ++i) {
    if (i > 0) sql += ", ";
    sql += quote_literal(i < value.size() ? value[i] : std::string()) + "::" + key[i].type;
    if (!key[i].collation.empty()) sql += " COLLATE " + quote_identifier(key[i].collation);
  }
  return sql + ")";
}

}  // namespace

std::string key_tuple_sql(const std::vector<KeyColumn>& key) {
  return "(" + key_order_sql(key) + ")";
}

std::string key_order_sql(const std::vector<KeyColumn>& key) {
  std::string sql;
  for (const KeyColumn& column : key) sql += (sql.empty() ? "" : ", ") + column_sql(column);
  return sql;
}

std::string key_text_sql(const std::vector<KeyColumn>& key) {
  // Named apart from the columns: ORDER BY would take an output column named "id" (its
  // text) before the table's id, and order numbers as text.
  std::string sql;
  for (size_t i = 0; i < key.size(); ++i) {
    sql += (i > 0 ? ", " : "") + quote_identifier(key[i].name) + "::text AS key_text_" +
           std::to_string(i + 1);
  }
  return sql;
}

std::string range_predicate(const std::vector<KeyColumn>& key, const KeyRange& range) {
  std::string sql;
  if (range.after) sql = key_tuple_sql(key) + " > " + value_tuple_sql(key, *range.after);
  if (range.through) {
    if (!sql.empty()) sql += " AND ";
    sql += key_tuple_sql(key) + " <= " + value_tuple_sql(key, *range.through);
  }
  return sql.empty() ? "true" : sql;
}

std::string key_equals_predicate(const std::vector<KeyColumn>& key, const KeyValue& value) {
  return key_tuple_sql(key) + " = " + value_tuple_sql(key, value);
}

std::string describe_key(const std::vector<KeyColumn>& key, const KeyValue& value) {
  std::string names;
  std::string values;
  for (size_t i = 0; i < key.size() && i < value.size(); ++i) {
    names += (i > 0 ? ", " : "") + key[i].name;
    values += (i > 0 ? ", " : "") + value[i];
  }
  return "(" + names + ")=(" + values + ")";
}

uint64_t next_range_rows(uint64_t rows, double took_ms, double target_ms, uint64_t min_rows,
                         uint64_t max_rows) {
  const auto now = static_cast<double>(rows);
  double scaled = now * 2;
  if (took_ms > 0) scaled = std::clamp(now * target_ms / took_ms, now / 2, now * 2);
  return std::clamp(static_cast<uint64_t>(scaled), min_rows, std::max(min_rows, max_rows));
}

}  // namespace cutover::verify
