#include "proxy/auth/auth_query.h"

#include "protocol/backend.h"
#include "protocol/frontend.h"
#include "proxy/auth/backend_login.h"

namespace cutover::proxy {
namespace {

constexpr size_t kMaxReplyMessage = 1 << 20;

AuthQueryResult failed(std::string error) {
  AuthQueryResult result;
  result.error = std::move(error);
  return result;
}

// Sends the query with the extended protocol (the user name travels as a parameter, never
// spliced into SQL) and reads the first row's second column.
asio::awaitable<AuthQueryResult> run_query(Stream& stream, std::string buffer,
                                           const std::string& sql, const std::string& user) {
  std::string out;
  protocol::encode(protocol::Parse{"", sql, {}}, out);
  protocol::encode(protocol::Bind{"", "", {}, {user}, {}}, out);
  protocol::encode(protocol::Execute{"", 1}, out);
  protocol::encode(protocol::Sync{}, out);
  if (co_await stream.write(out)) co_return failed("lost the connection to old");
  AuthQueryResult result;
  result.ok = true;
  protocol::ProtocolError error{};
  for (;;) {
    auto message = co_await read_message(stream, buffer, false, kMaxReplyMessage, error);
    if (!message) co_return failed("lost the connection to old during auth_query");
    if (message->type == 'E') co_return failed("auth_query failed: " + error_message(*message));
    if (message->type == 'D' && !result.secret) {
      auto row = protocol::decode_backend('D', message->body);
      if (!row) co_return failed("auth_query returned an unreadable row");
      const auto& columns = std::get<protocol::DataRow>(*row).columns;
      if (columns.size() != 2) co_return failed("auth_query must return two columns");
      if (columns[1]) result.secret = parse_secret(*columns[1]);
    }
    if (message->type == 'Z') co_return result;
  }
}

}  // namespace

asio::awaitable<AuthQueryResult> query_secret(const Config& config, const Secrets& secrets,
                                              const std::string& user,
                                              const std::string& database) {
  const BackendConfig& old_db = config.backends.old_db;
  LoginIdentity identity;
  identity.user = config.auth.query_user.empty() ? old_db.user : config.auth.query_user;
  identity.database = old_db.database.empty() ? database : old_db.database;
  identity.password = secrets.query_password;
  identity.parameters = {{"application_name", "cutover auth_query"}};
  Stream stream(co_await asio::this_coro::executor);
  const BackendTarget target{"old", old_db,
                             secrets.old_db};  // not a temporary: see client_auth.cpp
  auto login = co_await login_backend(stream, target, identity, config.timeouts.backend_connect);
  if (!login.ok) {
    stream.close();
    co_return failed("auth_query login to old as \"" + identity.user +
                     "\" failed: " + failure_message(login));
  }
  auto result = co_await run_query(stream, std::move(login.leftover), config.auth.auth_query, user);
  std::string terminate;
  protocol::encode(protocol::Terminate{}, terminate);
  co_await stream.write(terminate);
  stream.close();
  co_return result;
}

}  // namespace cutover::proxy
