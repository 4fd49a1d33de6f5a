// What the pinner and the effect planner need of the source of truth.
#pragma once

#include <optional>
#include <string_view>

#include "proxy/link/reply_filter.h"
#include "proxy/net/asio.h"

namespace cutover::proxy {

// What the pinner needs of the source of truth: statements of cutover's own run there, nothing
// of them reaching the client. The session implements it over its primary link; a unit test
// fakes it.
class SourceOfTruth {
 public:
  virtual ~SourceOfTruth() = default;
  // The transaction status of the client's session there, as of its last ReadyForQuery.
  virtual char transaction_status() const = 0;
  // One simple Query of cutover's own: its answer, rows and all; nullopt when the connection
  // failed.
  virtual asio::awaitable<std::optional<HeldAnswer>> query_own(std::string_view sql) = 0;
  // cutover's own messages (one unit, ending with a Sync), their answer dropped; false when
  // the connection failed.
  virtual asio::awaitable<bool> run_own(std::string_view messages) = 0;
};

}  // namespace cutover::proxy
