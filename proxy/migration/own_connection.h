// A connection cutover opens on its own behalf, to run statements of its own (journal replay,
// keeping the mirror's sequences ahead): a login, then exchanges of whole protocol messages,
// each within a time limit. A connection that fails or times out is closed and says so. Not a
// client session's connection (session.h), whose answers go to the client.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "protocol/backend.h"
#include "proxy/auth/backend_login.h"
#include "proxy/net/asio.h"
#include "proxy/net/stream.h"

namespace cutover::proxy {

class OwnConnection {
 public:
  struct Answer {
    bool answered = false;                  // false: the connection failed or timed out
    std::string error{};                    // the first ErrorResponse, "SQLSTATE: message"
    char status = 'I';                      // transaction status from the last ReadyForQuery
    std::vector<protocol::DataRow> rows{};  // the first rows returned, up to keep_rows
  };

  // Logs in as `identity` (the whole login within `timeout`, which also bounds each exchange);
  // null when that fails, with the reason in `error`.
  static asio::awaitable<std::unique_ptr<OwnConnection>> open(const BackendTarget& target,
                                                              const LoginIdentity& identity,
                                                              std::chrono::milliseconds connect,
                                                              std::chrono::milliseconds timeout,
                                                              std::string& error);

  // Sends `messages` and reads their answers up to `ready_expected` ReadyForQuery, within
  // `timeout` when given (else the connection's).
  asio::awaitable<Answer> exchange(std::string_view messages, int ready_expected,
                                   size_t keep_rows = 1,
                                   std::optional<std::chrono::milliseconds> timeout = {});
  // One simple-protocol Query.
  asio::awaitable<Answer> query(std::string_view sql, size_t keep_rows = 1);

  bool is_open() const { return stream_.is_open(); }
  void close() { stream_.close(); }

 private:
  OwnConnection(Stream stream, std::string buffer, std::chrono::milliseconds timeout)
      : stream_(std::move(stream)), buffer_(std::move(buffer)), timeout_(timeout) {}
  asio::awaitable<Answer> send_and_read(std::string_view messages, int ready_expected,
                                        size_t keep_rows);

  Stream stream_;
  std::string buffer_;
  std::chrono::milliseconds timeout_;
};

}  // namespace cutover::proxy
