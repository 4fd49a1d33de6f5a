// A blocking libpq connection for tests (see connection.h).
// Not a client library.
#include "tests/harness/connection.h"

#include <memory>
#include <utility>

namespace cutover::testing {
namespace {

using ResultPtr = std::unique_ptr<PGresult, decltype(&PQclear)>;

// Notices ("table does not exist, skipping") are expected in tests and only add noise.
void ignore_notice(void* /*arg*/, const char* /*message*/) {}

std::string trimmed(const char* message) {
  std::string text = message == nullptr ? "" : message;
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  return text;
}

// Runs sql and returns its last result, or throws QueryError if it failed.
ResultPtr run(PGconn* conn, const std::string& sql) {
  ResultPtr result(PQexec(conn, sql.c_str()), &PQclear);
  if (!result) {
    throw QueryError("", "query failed: " + trimmed(PQerrorMessage(conn)));
  }
  switch (PQresultStatus(result.get())) {
    case PGRES_COMMAND_OK:
    case PGRES_TUPLES_OK:
    case PGRES_EMPTY_QUERY:
      return result;
    case PGRES_COPY_IN:
    case PGRES_COPY_OUT:
    case PGRES_COPY_BOTH:
      throw QueryError("", "COPY is not supported by Connection::query; use PGconn* directly");
    default: {
      const char* sqlstate = PQresultErrorField(result.get(), PG_DIAG_SQLSTATE);
      throw QueryError(sqlstate == nullptr ? "" : sqlstate,
                       trimmed(PQresultErrorMessage(result.get())));
    }
  }
}

}  // namespace

QueryError::QueryError(std::string sqlstate, const std::string& message)
    : std::runtime_error("[" + sqlstate + "] " + message), sqlstate_(std::move(sqlstate)) {}

Connection::Connection(Connection&& other) noexcept : conn_(std::exchange(other.conn_, nullptr)) {}

Connection& Connection::operator=(Connection&& other) noexcept {
  if (this != &other) {
    if (conn_ != nullptr) PQfinish(conn_);
    conn_ = std::exchange(other.conn_, nullptr);
  }
  return *this;
}

Connection::~Connection() {
  if (conn_ != nullptr) PQfinish(conn_);
}

void Connection::exec(const std::string& sql) { run(conn_, sql); }

std::string Connection::query(const std::string& sql) {
  ResultPtr result = run(conn_, sql);
  std::string text;
  const int rows = PQntuples(result.get());
  const int cols = PQnfields(result.get());
  for (int row = 0; row < rows; ++row) {
    if (row > 0) text += '\n';
    for (int col = 0; col < cols; ++col) {
      if (col > 0) text += '\t';
      text += PQgetvalue(result.get(), row, col);  // "" for NULL
    }
  }
  return text;
}

std::string Connection::query_value(const std::string& sql) {
  ResultPtr result = run(conn_, sql);
  if (PQntuples(result.get()) < 1 || PQnfields(result.get()) < 1) {
    throw QueryError("", "query returned no value: " + sql);
  }
  return PQgetvalue(result.get(), 0, 0);
}

std::string Connection::copy_in(const std::string& sql, const std::string& data, const char* fail,
                                bool extended) {
  auto outcome = [](const ResultPtr& result) {
    const char* sqlstate = PQresultErrorField(result.get(), PG_DIAG_SQLSTATE);
    return PQresultStatus(result.get()) == PGRES_COMMAND_OK
               ? std::string(PQcmdStatus(result.get()))
               : "error " + std::string(sqlstate == nullptr ? "" : sqlstate);
  };
  ResultPtr started(extended
                        ? PQexecParams(conn_, sql.c_str(), 0, nullptr, nullptr, nullptr, nullptr, 0)
                        : PQexec(conn_, sql.c_str()),
                    &PQclear);
  if (PQresultStatus(started.get()) != PGRES_COPY_IN) return outcome(started);
  for (size_t at = 0; at < data.size(); at += 1000) {
    const std::string chunk = data.substr(at, 1000);
    if (PQputCopyData(conn_, chunk.data(), static_cast<int>(chunk.size())) != 1) {
      return "error sending data: " + std::string(PQerrorMessage(conn_));
    }
  }
  if (PQputCopyEnd(conn_, fail) != 1) return "error ending: " + std::string(PQerrorMessage(conn_));
  ResultPtr done(PQgetResult(conn_), &PQclear);
  std::string result = outcome(done);
  while (PGresult* rest = PQgetResult(conn_)) PQclear(rest);
  return result;
}

int Connection::backend_pid() const { return PQbackendPID(conn_); }

Connection connect(const std::string& conninfo) {
  Connection conn(PQconnectdb(conninfo.c_str()));
  if (conn.get() == nullptr) throw std::runtime_error("connect: out of memory");
  if (PQstatus(conn.get()) != CONNECTION_OK) {
    throw std::runtime_error("connect(" + conninfo + "): " + trimmed(PQerrorMessage(conn.get())));
  }
  PQsetNoticeProcessor(conn.get(), ignore_notice, nullptr);
  return conn;
}

std::string conninfo_value(std::string_view value) {
  bool plain = !value.empty() && value.find_first_of(" \t\n'\\") == std::string_view::npos;
  if (plain) return std::string(value);
  std::string quoted = "'";
  for (char c : value) {
    if (c == '\'' || c == '\\') quoted += '\\';
    quoted += c;
  }
  return quoted + "'";
}

}  // namespace cutover::testing
