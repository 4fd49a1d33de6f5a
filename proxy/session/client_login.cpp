#include "proxy/session/client_login.h"

#include "protocol/backend.h"
#include "protocol/frontend.h"
#include "proxy/auth/backend_login.h"
#include "proxy/auth/cancel_registry.h"
#include "proxy/base/log.h"
#include "proxy/net/stream_io.h"

namespace cutover::proxy {

ClientLogin::ClientLogin(ClientLink& client, ProxyContext& context, const Secrets& secrets,
                         uint64_t conn_id, std::string_view client_address)
    : client_(client),
      context_(context),
      secrets_(secrets),
      conn_id_(conn_id),
      client_address_(client_address) {}

asio::awaitable<std::optional<ClientLogin::Accepted>> ClientLogin::run(bool admitted) {
  auto startup = co_await read_startup_message();
  if (!startup) co_return std::nullopt;
  if (!admitted) {
    log::warn("client_rejected", {{"conn", conn_id_}, {"reason", "max_clients"}});
    co_await refuse("53300", "sorry, too many clients already");
    co_return std::nullopt;
  }
  user_ = std::string(startup->get("user").value_or(""));
  database_ = std::string(startup->get("database").value_or(user_));
  if (user_.empty()) {
    co_await refuse("28000", "no PostgreSQL user name specified in startup packet");
    co_return std::nullopt;
  }
  if (context_.config.tls.mode == TlsMode::kRequire && !client_.stream.encrypted()) {
    log::warn("client_rejected", {{"conn", conn_id_}, {"reason", "plaintext"}, {"user", user_}});
    co_await refuse("28000",
                    "cutover requires an encrypted connection (tls.mode is require); "
                    "connect with sslmode=require or stricter");
    co_return std::nullopt;
  }
  Accepted client{.startup = std::move(*startup), .user = user_, .database = database_};
  const bool authenticated = co_await authenticate(client);
  if (!authenticated) co_return std::nullopt;
  // Checked after authentication, as PostgreSQL does, so strangers learn no database names.
  const std::string& old_database = context_.config.backends.old_db.database;
  if (!old_database.empty() && database_ != old_database) {
    co_await refuse("3D000", "database \"" + database_ + "\" does not exist");
    co_return std::nullopt;
  }
  co_return client;
}

asio::awaitable<std::optional<protocol::StartupMessage>> ClientLogin::read_startup_message() {
  for (;;) {
    auto frame = co_await read_message(client_.stream, client_.in, true,
                                       protocol::kMaxStartupPacket, protocol_error_);
    if (!frame) {
      if (protocol_error_ != protocol::ProtocolError{}) {
        log::warn("client_protocol_error",
                  {{"conn", conn_id_}, {"error", make_error_code(protocol_error_).message()}});
        co_await refuse("08P01", "invalid startup packet layout");
      }
      co_return std::nullopt;
    }
    auto packet = protocol::decode_startup_packet(frame->body);
    if (!packet) {
      const bool version = packet.error() == protocol::ProtocolError::kUnsupportedProtocol;
      log::warn("client_bad_startup", {{"conn", conn_id_}, {"error", packet.error().message()}});
      co_await refuse(version ? "0A000" : "08P01", packet.error().message());
      co_return std::nullopt;
    }
    if (auto* cancel = std::get_if<protocol::CancelRequest>(&*packet)) {
      co_await forward_cancel(cancel->process_id, cancel->secret_key);
      co_return std::nullopt;
    }
    if (auto* message = std::get_if<protocol::StartupMessage>(&*packet)) co_return *message;
    const bool ssl = std::holds_alternative<protocol::SSLRequest>(*packet);
    const bool answered = co_await answer_encryption_request(ssl);
    if (!answered) co_return std::nullopt;
  }
}

// SSLRequest: 'S' and the TLS handshake when TLS is configured, else 'N'. GSSENCRequest: always
// 'N', and the client goes on with an SSLRequest or in plaintext.
asio::awaitable<bool> ClientLogin::answer_encryption_request(bool ssl) {
  // Bytes sent before the answer cannot have been meant for us (CVE-2021-23214's lesson).
  if (!client_.in.empty()) {
    log::warn("client_protocol_error",
              {{"conn", conn_id_}, {"error", "data received after an encryption request"}});
    co_return co_await refuse("08P01", "received unencrypted data after SSL request");
  }
  if (client_.stream.encrypted()) co_return co_await refuse("08P01", "encryption requested twice");
  const bool accept = ssl && secrets_.server_tls != nullptr;
  const bool sent = co_await client_.write(accept ? "S" : "N");
  if (!sent || !accept) co_return sent;
  const ErrorCode ec = co_await client_.stream.accept_tls(secrets_.server_tls);
  context_.metrics.tls_handshake(ec ? Metrics::Tls::kFailed : Metrics::Tls::kOk);
  if (ec) {
    // Nothing can be said to the client: the stream is neither plaintext nor working TLS.
    log::warn("client_tls_failed", {{"conn", conn_id_}, {"error", ec.message()}});
    client_.write_whole = false;
    co_return false;
  }
  log::debug("client_tls", {{"conn", conn_id_},
                            {"version", SSL_get_version(client_.stream.ssl_handle())},
                            {"cipher", SSL_get_cipher_name(client_.stream.ssl_handle())}});
  co_return true;
}

// Cancels whatever the session's backends are running: old's, and new's in dual_write (a
// cancel that finds its backend idle does nothing).
asio::awaitable<void> ClientLogin::forward_cancel(int32_t process_id, int32_t secret_key) {
  auto keys = context_.cancels.find(process_id, secret_key);
  if (keys.empty()) {
    log::warn("cancel_unknown_key", {{"conn", conn_id_}, {"pid", process_id}});
    co_return;
  }
  for (const BackendKey& key : keys) {
    const bool sent = co_await send_cancel_request(key, context_.config.timeouts.backend_connect);
    if (sent) {
      log::info("cancel_forwarded", {{"conn", conn_id_}, {"pid", process_id}, {"port", key.port}});
    } else {
      log::error("cancel_forward_failed",
                 {{"conn", conn_id_}, {"pid", process_id}, {"port", key.port}});
    }
  }
}

// A FATAL error to the client; always false, for the callers that end the login with it.
asio::awaitable<bool> ClientLogin::refuse(std::string_view sqlstate, std::string_view message) {
  co_await client_.send_fatal(sqlstate, message);
  co_return false;
}

}  // namespace cutover::proxy
