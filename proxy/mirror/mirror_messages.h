// Small pieces of the messages mirroring writes (session_mirror.cpp, session_parallel.cpp).
#pragma once

#include <string>
#include <string_view>

#include "protocol/frontend.h"

namespace cutover::proxy {

// Asked of new after a transaction's writes (see Session::run_on_mirror());
// txid_current_if_assigned() exists from PostgreSQL 10 on, so the same query serves whichever
// database is the mirror.
constexpr std::string_view kAskTransactionId = "SELECT txid_current_if_assigned()";

inline void append_query(std::string& out, std::string_view sql) {
  protocol::encode(protocol::Query{.sql = std::string(sql)}, out);
}

// The SQL of a whole Query message.
inline std::string_view query_text(std::string_view whole) {
  const std::string_view sql = whole.substr(5);  // type and length
  return sql.substr(0, sql.find('\0'));
}

}  // namespace cutover::proxy
