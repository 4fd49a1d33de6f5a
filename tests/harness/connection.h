// A blocking libpq connection for tests: RAII over PGconn*, queries that throw with the SQLSTATE.
// Not a client library: no pipelining, no async; tests needing those use PGconn* directly.
#pragma once

#include <libpq-fe.h>

#include <stdexcept>
#include <string>
#include <string_view>

namespace cutover::testing {

// A statement failed on the server (or the connection broke while running it).
class QueryError : public std::runtime_error {
 public:
  QueryError(std::string sqlstate, const std::string& message);
  // The five-character SQLSTATE, or "" when libpq had none (e.g. the connection was lost).
  const std::string& sqlstate() const { return sqlstate_; }

 private:
  std::string sqlstate_;
};

// Owns one PGconn; PQfinish on destruction. Make one with connect().
class Connection {
 public:
  explicit Connection(PGconn* conn) noexcept : conn_(conn) {}
  Connection(Connection&& other) noexcept;
  Connection& operator=(Connection&& other) noexcept;
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;
  ~Connection();

  PGconn* get() const { return conn_; }

  // Runs sql (one or more statements) and discards any rows. Throws QueryError.
  void exec(const std::string& sql);
  // Runs sql and returns every row of the last result: columns joined with '\t', rows with
  // '\n', no trailing newline; NULL prints as "". Throws QueryError.
  std::string query(const std::string& sql);
  // First column of the first row of sql's last result. Throws QueryError, also when there is
  // no row. The message starts with "[SQLSTATE] ".
  std::string query_value(const std::string& sql);
  // Runs a COPY ... FROM STDIN (`sql`; through the extended protocol when `extended`), sends
  // `data` in CopyData messages of up to 1000 bytes, then CopyDone, or CopyFail with `fail`.
  // Returns the command tag ("COPY 2") or "error <SQLSTATE>"; the COPY refused at once gives
  // that error without sending the data.
  std::string copy_in(const std::string& sql, const std::string& data, const char* fail = nullptr,
                      bool extended = false);
  // The server process serving this connection (pg_backend_pid() as libpq saw it at startup).
  int backend_pid() const;

 private:
  PGconn* conn_;
};

// Opens a connection; throws std::runtime_error with PQerrorMessage if it fails.
Connection connect(const std::string& conninfo);

// Quotes a conninfo value when it needs it (empty, spaces, quotes or backslashes).
std::string conninfo_value(std::string_view value);

}  // namespace cutover::testing
