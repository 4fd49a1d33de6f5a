#include "router/parse_tree.h"

#include <pg_query.h>

// Boost.JSON compiled into this file (header-only mode) for the whole library.
#include <boost/json/src.hpp>

namespace cutover::router {

std::optional<boost::json::value> parse_tree(std::string_view sql, std::string* error) {
  std::string text(sql);  // libpg_query wants a NUL-terminated string
  PgQueryParseResult parsed = pg_query_parse(text.c_str());
  if (parsed.error != nullptr) {
    if (error != nullptr) {
      *error = parsed.error->message != nullptr ? parsed.error->message : "parse error";
    }
    pg_query_free_parse_result(parsed);
    return std::nullopt;
  }
  boost::system::error_code ec;
  boost::json::value tree = boost::json::parse(parsed.parse_tree, ec);
  pg_query_free_parse_result(parsed);
  if (ec) return std::nullopt;
  return tree;
}

}  // namespace cutover::router
