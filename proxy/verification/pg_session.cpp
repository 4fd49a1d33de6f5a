#include "proxy/verification/pg_session.h"

#include <poll.h>

#include <array>
#include <stdexcept>

namespace cutover::proxy {
namespace {

std::string trimmed(const char* text) {
  std::string s = text != nullptr ? text : "";
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

}  // namespace

void throw_exception_from_error(const PgError& error, const boost::source_location&) {
  throw std::runtime_error(error.text());
}

boost::system::result<PgSession, PgError> PgSession::open(const PgLogin& login) {
  const BackendConfig& b = login.backend;
  const std::string port = std::to_string(b.port);
  const std::string timeout = std::to_string(login.connect_timeout.count());
  const std::string sslmode = ssl_mode_name(b.sslmode);
  // libpq checks the certificate against `host` and sends it as SNI; sslservername names the
  // server apart from the address it is reached at, which libpq takes as hostaddr.
  const bool named = !b.sslservername.empty();
  std::vector<std::pair<const char*, const char*>> params = {
      {"host", named ? b.sslservername.c_str() : b.host.c_str()},
      {"port", port.c_str()},
      {"dbname", login.database.c_str()},
      {"user", login.user.c_str()},
      {"password", login.password.c_str()},
      {"sslmode", sslmode.c_str()},
      {"connect_timeout", timeout.c_str()},
      {"application_name", "cutover verify"},
      // A server that goes silent is noticed by the kernel too, not only by receive()'s limit.
      {"keepalives_idle", "10"},
      {"keepalives_interval", "5"},
      {"keepalives_count", "3"}};
  if (named) params.emplace_back("hostaddr", b.host.c_str());
  if (!b.sslrootcert.empty()) params.emplace_back("sslrootcert", b.sslrootcert.c_str());
  std::vector<const char*> keys;
  std::vector<const char*> values;
  for (const auto& [key, value] : params) {
    keys.push_back(key);
    values.push_back(value);
  }
  keys.push_back(nullptr);
  values.push_back(nullptr);
  Connection connection(PQconnectdbParams(keys.data(), values.data(), 0), &PQfinish);
  if (PQstatus(connection.get()) != CONNECTION_OK) {
    return PgError{"08006", login.name + ": " + trimmed(PQerrorMessage(connection.get()))};
  }
  return PgSession(login, std::move(connection));
}

PgSession::Rows PgSession::query(const std::string& sql) {
  send(sql);
  return receive();
}

void PgSession::send(const std::string& sql) {
  send_failed_.reset();
  if (!connection_) {
    send_failed_ = PgError{"08006", name_ + ": closed after a query went unanswered"};
  } else if (PQsendQuery(connection_.get(), sql.c_str()) == 0) {
    send_failed_ = PgError{"08006", name_ + ": " + trimmed(PQerrorMessage(connection_.get()))};
  }
}

// Waits until a result can be read without blocking; an error when `deadline` passes or the
// pass is stopped first (the query is then cancelled and the connection closed: what it still
// owes could not be told from the next query's answer).
std::optional<PgError> PgSession::await_result(std::chrono::steady_clock::time_point deadline) {
  constexpr auto kSlice = std::chrono::milliseconds(100);  // how soon a stop is seen
  while (PQisBusy(connection_.get()) != 0) {
    const auto now = std::chrono::steady_clock::now();
    const bool stopped = stop_ != nullptr && stop_->load();
    if (stopped || now >= deadline) {
      if (PGcancel* cancel = PQgetCancel(connection_.get())) {
        std::array<char, 256> ignored{};
        PQcancel(cancel, ignored.data(), static_cast<int>(ignored.size()));
        PQfreeCancel(cancel);
      }
      connection_.reset();
      return PgError{"57014", name_ + (stopped ? ": verification stopped"
                                               : ": no answer within the time allowed")};
    }
    pollfd ready{.fd = PQsocket(connection_.get()), .events = POLLIN, .revents = 0};
    const auto wait = std::min<std::chrono::steady_clock::duration>(deadline - now, kSlice);
    ::poll(&ready, 1,
           static_cast<int>(std::chrono::duration_cast<std::chrono::milliseconds>(wait).count()));
    if (PQconsumeInput(connection_.get()) == 0) return std::nullopt;  // PQgetResult says why
  }
  return std::nullopt;
}

PgSession::Rows PgSession::receive(std::optional<std::chrono::milliseconds> timeout) {
  if (send_failed_) return *std::exchange(send_failed_, std::nullopt);
  const auto deadline = std::chrono::steady_clock::now() + timeout.value_or(query_timeout_);
  std::vector<PgRow> rows;
  std::optional<PgError> error;
  // Every result is read, so the connection is ready for the next query even after an error.
  for (;;) {
    if (std::optional<PgError> late = await_result(deadline)) return *late;
    PGresult* result = PQgetResult(connection_.get());
    if (result == nullptr) break;
    const std::unique_ptr<PGresult, decltype(&PQclear)> owned(result, &PQclear);
    const ExecStatusType status = PQresultStatus(result);
    if (status == PGRES_FATAL_ERROR && !error) {
      const char* state = PQresultErrorField(result, PG_DIAG_SQLSTATE);
      error = PgError{state != nullptr ? state : "08006",
                      name_ + ": " + trimmed(PQresultErrorField(result, PG_DIAG_MESSAGE_PRIMARY))};
    }
    if (status != PGRES_TUPLES_OK) continue;
    rows.clear();
    const int columns = PQnfields(result);
    for (int r = 0; r < PQntuples(result); ++r) {
      PgRow& row = rows.emplace_back();
      for (int c = 0; c < columns; ++c) {
        if (PQgetisnull(result, r, c) != 0) {
          row.emplace_back();
        } else {
          row.emplace_back(std::string(PQgetvalue(result, r, c),
                                       static_cast<size_t>(PQgetlength(result, r, c))));
        }
      }
    }
  }
  if (error) return *error;
  if (PQstatus(connection_.get()) != CONNECTION_OK) {
    return PgError{"08006", name_ + ": " + trimmed(PQerrorMessage(connection_.get()))};
  }
  return rows;
}

}  // namespace cutover::proxy
