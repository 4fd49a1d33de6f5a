// Session start-up: TLS and GSS negotiation, cancel forwarding, the client limit, then the
// client's authentication (client_auth.cpp) and cutover's own login to the old database.
#include "protocol/backend.h"
#include "protocol/frontend.h"
#include "proxy/base/log.h"
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
  auto startup = co_await read_startup_message();
  if (!startup) co_return false;
  if (!admitted_) {
    log::warn("client_rejected", {{"conn", id_}, {"reason", "max_clients"}});
    co_await send_fatal("53300", "sorry, too many clients already");
    co_return false;
  }
  user_ = std::string(startup->get("user").value_or(""));
  database_ = std::string(startup->get("database").value_or(user_));
  if (user_.empty()) {
    co_await send_fatal("28000", "no PostgreSQL user name specified in startup packet");
    co_return false;
  }
  if (config_.tls.mode == TlsMode::kRequire && !client_.stream.encrypted()) {
    log::warn("client_rejected", {{"conn", id_}, {"reason", "plaintext"}, {"user", user_}});
    co_await send_fatal("28000",
                        "cutover requires an encrypted connection (tls.mode is require); "
                        "connect with sslmode=require or stricter");
    co_return false;
  }
  LoginIdentity identity = backend_identity(*startup);
  if (!co_await authenticate_client(identity)) co_return false;
  // Checked after authentication, as PostgreSQL does, so strangers learn no database names.
  const std::string& old_database = config_.backends.old_db.database;
  if (!old_database.empty() && database_ != old_database) {
    co_await send_fatal("3D000", "database \"" + database_ + "\" does not exist");
    co_return false;
  }
  primary_.database = context_.roles.current().serving;
  secondary_.database = router::other(primary_.database);
  if (!routing()) co_return co_await login_to_primary(identity);
  // Both logins at once: a session that mirrors should not take twice as long to open.
  bool primary_ok = co_await (login_to_primary(identity) && login_to_secondary(identity, *startup));
  if (primary_ok && context_.sequences != nullptr) context_.sequences->note_login(database_, user_);
  if (primary_ok && new_side_.ready() && secondary_.key && client_key_) {
    // Logged in concurrently: the primary's client key may have come after the other login.
    const BackendConfig& other = backend_target(config_, *secrets_, secondary_.database).config;
    context_.cancels.add_secondary(
        client_key_->process_id,
        {other.host, other.port, secondary_.key->process_id, secondary_.key->secret_key});
  }
  co_return primary_ok;
}

asio::awaitable<std::optional<protocol::StartupMessage>> Session::read_startup_message() {
  for (;;) {
    auto frame = co_await read_message(client_.stream, client_.in, true,
                                       protocol::kMaxStartupPacket, protocol_error_);
    if (!frame) {
      if (protocol_error_ != protocol::ProtocolError{}) {
        log::warn("client_protocol_error",
                  {{"conn", id_}, {"error", make_error_code(protocol_error_).message()}});
        co_await send_fatal("08P01", "invalid startup packet layout");
      }
      co_return std::nullopt;
    }
    auto packet = protocol::decode_startup_packet(frame->body);
    if (!packet) {
      bool version = packet.error() == protocol::ProtocolError::kUnsupportedProtocol;
      log::warn("client_bad_startup", {{"conn", id_}, {"error", packet.error().message()}});
      co_await send_fatal(version ? "0A000" : "08P01", packet.error().message());
      co_return std::nullopt;
    }
    if (auto* cancel = std::get_if<protocol::CancelRequest>(&*packet)) {
      co_await forward_cancel(cancel->process_id, cancel->secret_key);
      co_return std::nullopt;
    }
    if (auto* message = std::get_if<protocol::StartupMessage>(&*packet)) co_return *message;
    bool ssl = std::holds_alternative<protocol::SSLRequest>(*packet);
    if (!co_await answer_encryption_request(ssl)) co_return std::nullopt;
  }
}

// SSLRequest: 'S' and the TLS handshake when TLS is configured, else 'N'. GSSENCRequest: always
// 'N', and the client goes on with an SSLRequest or in plaintext.
asio::awaitable<bool> Session::answer_encryption_request(bool ssl) {
  // Bytes sent before the answer cannot have been meant for us (CVE-2021-23214's lesson).
  if (!client_.in.empty()) {
    log::warn("client_protocol_error",
              {{"conn", id_}, {"error", "data received after an encryption request"}});
    co_await send_fatal("08P01", "received unencrypted data after SSL request");
    co_return false;
  }
  if (client_.stream.encrypted()) {
    co_await send_fatal("08P01", "encryption requested twice");
    co_return false;
  }
  bool accept = ssl && secrets_->server_tls != nullptr;
  if (!co_await write_to_client(accept ? "S" : "N")) co_return false;
  if (!accept) co_return true;
  ErrorCode ec = co_await client_.stream.accept_tls(secrets_->server_tls);
  context_.metrics.tls_handshake(ec ? Metrics::Tls::kFailed : Metrics::Tls::kOk);
  if (ec) {
    // Nothing can be said to the client: the stream is neither plaintext nor working TLS.
    log::warn("client_tls_failed", {{"conn", id_}, {"error", ec.message()}});
    client_.write_whole = false;
    co_return false;
  }
  log::debug("client_tls", {{"conn", id_},
                            {"version", SSL_get_version(client_.stream.ssl_handle())},
                            {"cipher", SSL_get_cipher_name(client_.stream.ssl_handle())}});
  co_return true;
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
  const BackendTarget target = backend_target(config_, *secrets_, db);
  LoginIdentity identity = base;
  identity.user = target.config.user.empty() ? user_ : target.config.user;
  identity.database = target.config.database.empty() ? database_ : target.config.database;
  identity.password = target.secrets.password;
  return identity;
}

// The source of truth's login, relayed to the client (its parameters, cutover's cancel key).
asio::awaitable<bool> Session::login_to_primary(const LoginIdentity& identity) {
  primary_.identity = identity_on(primary_.database, identity);
  const BackendTarget target = backend_target(config_, *secrets_, primary_.database);
  auto result = co_await login_backend(primary_.stream, target, primary_.identity,
                                       config_.timeouts.backend_connect);
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
      co_await send_fatal(result.sqlstate, result.reason);
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
    nonstandard_strings_ = *strings != "on";
    pinner_.set_standard_strings(!nonstandard_strings_);
  }
  primary_.in = std::move(result.leftover);
  co_return co_await write_to_client(out);
}

// Cancels whatever the session's backends are running: old's, and new's in dual_write (a
// cancel that finds its backend idle does nothing).
asio::awaitable<void> Session::forward_cancel(int32_t process_id, int32_t secret_key) {
  auto keys = context_.cancels.find(process_id, secret_key);
  if (keys.empty()) {
    log::warn("cancel_unknown_key", {{"conn", id_}, {"pid", process_id}});
    co_return;
  }
  for (const BackendKey& key : keys) {
    bool sent = co_await send_cancel_request(key, config_.timeouts.backend_connect);
    if (sent) {
      log::info("cancel_forwarded", {{"conn", id_}, {"pid", process_id}, {"port", key.port}});
    } else {
      log::error("cancel_forward_failed", {{"conn", id_}, {"pid", process_id}, {"port", key.port}});
    }
  }
}

// The secondary's login, beside the primary's: reads and mirrored writes go there once it is up.
asio::awaitable<void> Session::login_to_secondary(const LoginIdentity& identity,
                                                  const protocol::StartupMessage& startup) {
  application_name_ = std::string(startup.get("application_name").value_or(""));
  view_.sticky_hash = router::sticky_hash(sticky_key());
  view_.user = user_;
  // Named: GCC 12 mishandles temporaries inside co_await expressions.
  const LoginIdentity on_secondary = identity_on(secondary_.database, identity);
  co_await new_side_.login(on_secondary);
}

std::string Session::sticky_key() const {
  switch (config_.migration.sticky_key) {
    case StickyKey::kSession:
      return std::to_string(id_) + "/" + std::to_string(reinterpret_cast<uintptr_t>(this));
    case StickyKey::kUser:
      return user_;
    case StickyKey::kDatabase:
      return database_;
    case StickyKey::kApplicationName:
      return application_name_;
    case StickyKey::kClientAddress:
      return client_address_;
  }
  return "";
}

}  // namespace cutover::proxy
