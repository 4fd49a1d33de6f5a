// Session start-up: the client's login (client_login.h), then cutover's own logins to the
// source of truth and, in dual_write at the same time, to the mirror.
#include "protocol/backend.h"
#include "protocol/frontend.h"
#include "proxy/base/log.h"
#include "proxy/mirror/session_error.h"
#include "proxy/net/stream_io.h"
#include "proxy/session/client_login.h"
#include "proxy/session/session.h"

namespace cutover::proxy {
namespace {

using namespace asio::experimental::awaitable_operators;

// Startup parameters that describe the connection to one server rather than the session.
bool per_connection_parameter(std::string_view name) {
  return name == "user" || name == "database" || name.starts_with("_pq_.");
}

}  // namespace

asio::awaitable<bool> Session::startup() {
  ClientLogin login(client_, context_, *secrets_, id_, client_address_);
  const std::optional<ClientLogin::Accepted> client = co_await login.run(admitted_);
  if (!client) co_return false;
  user_ = client->user;
  database_ = client->database;
  LoginIdentity identity = backend_identity(client->startup);
  identity.client_key = client->client_key;
  identity.verifier = client->verifier;
  primary_.database = context_.roles.current().serving;
  secondary_.database = router::other(primary_.database);
  if (!routing()) co_return co_await login_to_primary(identity);
  // Both logins at once: a session that mirrors should not take twice as long to open.
  bool primary_ok =
      co_await (login_to_primary(identity) && login_to_secondary(identity, client->startup));
  if (primary_ok && context_.sequences != nullptr) context_.sequences->note_login(database_, user_);
  if (primary_ok && new_side_.ready() && secondary_.key && client_key_) {
    // Logged in concurrently: the primary's client key may have come after the other login.
    const BackendConfig& other =
        backend_target(context_.config, *secrets_, secondary_.database).config;
    context_.cancels.add_secondary(
        client_key_->process_id,
        {other.host, other.port, secondary_.key->process_id, secondary_.key->secret_key});
  }
  co_return primary_ok;
}

// Who cutover logs in as to old (the client's authentication may add its SCRAM keys).
LoginIdentity Session::backend_identity(const protocol::StartupMessage& startup) const {
  LoginIdentity identity = identity_on(router::Backend::kOld, {});
  for (const auto& [name, value] : startup.parameters) {
    if (!per_connection_parameter(name)) identity.parameters.emplace_back(name, value);
  }
  return identity;
}

// `identity` with `db`'s configured user, database and password in place of another's.
// (`base` by reference: GCC 12 miscompiles a by-value class argument made in a coroutine.)
LoginIdentity Session::identity_on(router::Backend db, const LoginIdentity& base) const {
  const BackendTarget target = backend_target(context_.config, *secrets_, db);
  LoginIdentity identity = base;
  identity.user = target.config.user.empty() ? user_ : target.config.user;
  identity.database = target.config.database.empty() ? database_ : target.config.database;
  identity.password = target.secrets.password;
  return identity;
}

// The source of truth's login, relayed to the client (its parameters, cutover's cancel key).
asio::awaitable<bool> Session::login_to_primary(const LoginIdentity& identity) {
  primary_.identity = identity_on(primary_.database, identity);
  const BackendTarget target = backend_target(context_.config, *secrets_, primary_.database);
  auto result = co_await login_backend(primary_.stream, target, primary_.identity,
                                       context_.config.timeouts.backend_connect);
  if (!result.ok) {
    log::error("backend_login_failed", {{"conn", id_},
                                        {"backend", target.name},
                                        {"user", primary_.identity.user},
                                        {"error", failure_message(result)}});
    if (result.server_error) {
      // The server's own words (3D000 unknown database, 53300 too many clients, ...).
      std::string bytes;
      append_message(bytes, result.server_error->type, result.server_error->body);
      co_await write_bounded(client_.stream, bytes, kFinalWriteTimeout);
    } else {
      co_await client_.send_fatal(result.sqlstate, result.reason);
    }
    co_return false;
  }
  std::string out;
  protocol::encode(protocol::AuthenticationOk{}, out);
  // The backend's messages end with ReadyForQuery (6 bytes); our BackendKeyData goes before it.
  std::string_view messages = result.messages;
  out.append(messages.substr(0, messages.size() - 6));
  primary_.key = result.key;
  if (result.key) {
    client_key_ = context_.cancels.add(
        {target.config.host, target.config.port, result.key->process_id, result.key->secret_key});
    protocol::encode(protocol::BackendKeyData{client_key_->process_id, client_key_->secret_key},
                     out);
  }
  out.append(messages.substr(messages.size() - 6));
  primary_.status = result.transaction_status;
  if (auto strings = parameter_status(result.messages, "standard_conforming_strings")) {
    dispatcher_.note_parameter_status("standard_conforming_strings", *strings);
  }
  primary_.in = std::move(result.leftover);
  co_return co_await client_.write(out);
}

// The secondary's login, beside the primary's: reads and mirrored writes go there once it is up.
asio::awaitable<void> Session::login_to_secondary(const LoginIdentity& identity,
                                                  const protocol::StartupMessage& startup) {
  dispatcher_.start(user_,
                    router::sticky_hash(sticky_key(startup.get("application_name").value_or(""))));
  // Named: GCC 12 mishandles temporaries inside co_await expressions.
  const LoginIdentity on_secondary = identity_on(secondary_.database, identity);
  co_await new_side_.login(on_secondary);
}

std::string Session::sticky_key(std::string_view application_name) const {
  switch (context_.config.migration.sticky_key) {
    case StickyKey::kSession:
      return std::to_string(id_) + "/" + std::to_string(reinterpret_cast<uintptr_t>(this));
    case StickyKey::kUser:
      return user_;
    case StickyKey::kDatabase:
      return database_;
    case StickyKey::kApplicationName:
      return std::string(application_name);
    case StickyKey::kClientAddress:
      return client_address_;
  }
  return "";
}

}  // namespace cutover::proxy
