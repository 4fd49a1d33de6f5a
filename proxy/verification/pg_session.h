// A libpq connection to old or new for background verification: logged in as the configured
// backend says (host, port, TLS, user and password file), one simple query at a time, errors
// as values with their SQLSTATE. Blocking: it runs on a thread of its own, never on a session's
// io_context (docs/architecture.md). Not a client session's connection, nor OwnConnection
// (proxy/migration/own_connection.h), which runs on the sessions' threads.
#pragma once

#include <libpq-fe.h>

#include <atomic>
#include <boost/system/result.hpp>
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "proxy/base/config.h"

namespace cutover::proxy {

struct PgError {
  std::string sqlstate;  // "08006" when the connection failed
  std::string message;
  std::string text() const { return sqlstate + ": " + message; }
};
[[noreturn]] void throw_exception_from_error(const PgError& error, const boost::source_location&);

using PgRow = std::vector<std::optional<std::string>>;  // nullopt: NULL

struct PgLogin {
  std::string name;  // "old" or "new", for messages
  const BackendConfig& backend;
  std::string user{};      // the backend's own unless empty in the config
  std::string database{};  // likewise
  std::string password{};  // from the backend's password file; may be empty
  std::chrono::seconds connect_timeout{10};
  std::chrono::milliseconds query_timeout{std::chrono::minutes(10)};  // receive()'s default
  // Set when the work must end (cutover stops): a query waiting for its answer is cancelled.
  const std::atomic<bool>* stop = nullptr;
};

class PgSession {
 public:
  static boost::system::result<PgSession, PgError> open(const PgLogin& login);

  using Rows = boost::system::result<std::vector<PgRow>, PgError>;
  // Runs `sql` (one or more statements; the last one's rows are returned).
  Rows query(const std::string& sql);
  // query() in two halves, so that old and new can work on a query at the same time: send()
  // returns at once, receive() waits for the answer (send()'s error, if it failed) at most
  // `timeout` (the login's query_timeout when none is given). A query unanswered in time, or
  // when the stop flag is set, is cancelled and the connection closed: later queries fail.
  void send(const std::string& sql);
  Rows receive(std::optional<std::chrono::milliseconds> timeout = std::nullopt);

  const std::string& name() const { return name_; }

 private:
  using Connection = std::unique_ptr<PGconn, decltype(&PQfinish)>;
  PgSession(const PgLogin& login, Connection connection)
      : name_(login.name),
        query_timeout_(login.query_timeout),
        stop_(login.stop),
        connection_(std::move(connection)) {}
  std::optional<PgError> await_result(std::chrono::steady_clock::time_point deadline);

  std::string name_;
  std::chrono::milliseconds query_timeout_;
  const std::atomic<bool>* stop_;
  Connection connection_;
  std::optional<PgError> send_failed_;
};

}  // namespace cutover::proxy
