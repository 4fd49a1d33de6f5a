// Small pieces of the messages mirroring writes (the mirror and the pinner).
#pragma once

#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "protocol/backend.h"
#include "protocol/framing.h"
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

// A DataRow's body decoded; nullopt when it is malformed.
inline std::optional<protocol::DataRow> decode_row(const std::string& body) {
  auto decoded = protocol::decode_backend('D', body);
  if (!decoded) return std::nullopt;
  return std::get<protocol::DataRow>(std::move(*decoded));
}

// The whole messages of `batch`, in order (an unfinished one at the end left out).
inline std::vector<std::string_view> split_messages(std::string_view batch) {
  std::vector<std::string_view> messages;
  for (;;) {
    auto frame = protocol::next_frame(batch, std::numeric_limits<size_t>::max());
    if (frame.status != protocol::FrameStatus::kFrame) return messages;
    messages.push_back(batch.substr(0, frame.consumed));
    batch.remove_prefix(frame.consumed);
  }
}

inline std::string close_statement(const std::string& name) {
  std::string out;
  protocol::encode(protocol::Close{.kind = 'S', .name = name}, out);
  return out;
}

}  // namespace cutover::proxy
