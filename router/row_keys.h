// The rows a write names by value, for the journal's reports (which rows may the mirror have
// wrong?): for each statement writing one table, the columns it pins to values. UPDATE and
// DELETE: the `column = value` conditions ANDed at the top of WHERE; INSERT ... VALUES with a
// column list: each row's values. A value is a constant as the SQL spells it, or a parameter's
// text quoted as a literal. Which columns are the key the caller knows (the catalog); this only
// reads the parse tree. Pure.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace cutover::router {

struct NamedRows {
  std::string table{};                 // as written: "t" or "s.t"
  std::vector<std::string> columns{};  // the columns pinned (UPDATE/DELETE) or listed (INSERT)
  // Per row, per column: the value, nullopt where it is no constant (an expression, NULL, a
  // binary parameter).
  std::vector<std::vector<std::optional<std::string>>> rows{};
};

// `parameters`: the values bound to $1, $2, ... (text format; nullopt: NULL or not text).
std::vector<NamedRows> rows_named(std::string_view sql,
                                  const std::vector<std::optional<std::string>>& parameters);

// One "table(k1, k2)=(v1, v2)" per row that pins every column of `key`.
std::vector<std::string> key_texts(const NamedRows& named, const std::vector<std::string>& key);

}  // namespace cutover::router
