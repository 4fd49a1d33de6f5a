// PostgreSQL's own parse tree of a SQL text (libpg_query), as JSON: what the classifier, the
// pinning of time functions and the rewriting of INSERTs all walk. libpg_query also offers the
// tree as protobuf, which would need protobuf-c, which Debian does not ship with it.
#pragma once

#include <boost/json/value.hpp>
#include <optional>
#include <string>
#include <string_view>

namespace cutover::router {

// The tree of `sql` (its "stmts" array holds one entry per statement); nullopt when it does
// not parse, with the parser's message in `error` when one is given.
std::optional<boost::json::value> parse_tree(std::string_view sql, std::string* error = nullptr);

}  // namespace cutover::router
