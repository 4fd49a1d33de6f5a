#include "proxy/auth/check_backends.h"

#include "protocol/backend.h"
#include "protocol/frontend.h"
#include "proxy/auth/backend_login.h"
#include "proxy/auth/credentials.h"
#include "proxy/net/spawn.h"

namespace cutover::proxy {
namespace {

asio::awaitable<std::string> check_one(const Config& config, const Secrets& secrets,
                                       const std::string& name, const std::string& user,
                                       const std::string& database, bool& ok) {
  const BackendConfig& backend = name == "old" ? config.backends.old_db : config.backends.new_db;
  const BackendTarget target{name, backend, name == "old" ? secrets.old_db : secrets.new_db};
  LoginIdentity identity;
  identity.user = backend.user.empty() ? user : backend.user;
  identity.database = backend.database.empty() ? database : backend.database;
  identity.password = target.secrets.password;
  identity.parameters = {{"application_name", "cutover check-backends"}};
  Stream stream(co_await asio::this_coro::executor);
  auto result = co_await login_backend(stream, target, identity, config.timeouts.backend_connect);
  std::string line = name + " " + backend.host + ":" + std::to_string(backend.port) + " ";
  if (!result.ok) {
    ok = false;
    line += "FAILED " + failure_message(result);
  } else {
    line += "ok user=" + identity.user + " database=" + identity.database +
            " server_version=" + parameter_status(result.messages, "server_version").value_or("?") +
            " tls=" + (stream.encrypted() ? SSL_get_version(stream.ssl_handle()) : "none");
    std::string terminate;
    protocol::encode(protocol::Terminate{}, terminate);
    co_await stream.write(terminate);
  }
  stream.close();
  co_return line;
}

}  // namespace

bool check_backends(const Config& config, const std::string& user, const std::string& database,
                    std::ostream& out) {
  auto secrets = load_secrets(config);
  asio::io_context io;
  bool ok = true;
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        for (const std::string name : {"old", "new"}) {
          out << co_await check_one(config, *secrets, name, user, database, ok) << "\n";
        }
      },
      LogEscaped("check_backends_failed"));
  io.run();
  return ok;
}

}  // namespace cutover::proxy
