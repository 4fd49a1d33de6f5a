#include "router/parse_tree.h"

#include <pg_query.h>

#include <boost/json.hpp>

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
  // Boost.JSON refuses nesting past 32 by default, which an expression such as `+ + ... 1`
  // (each operator two levels deeper) reaches quickly: such a read came out "unknown". The
  // parser's own stack check bounds the depth; this bound only keeps it finite.
  boost::json::parse_options options;
  options.max_depth = 10'000;
  boost::system::error_code ec;
  boost::json::value tree = boost::json::parse(parsed.parse_tree, ec, {}, options);
  pg_query_free_parse_result(parsed);
  if (ec) return std::nullopt;
  return tree;
}

}  // namespace cutover::router
