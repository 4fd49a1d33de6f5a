// The client's authentication, done by cutover itself: trust for listed networks, md5, and
// SCRAM-SHA-256 (with tls-server-end-point channel binding on TLS), against verifiers from the
// users file or auth_query. Failures look exactly like PostgreSQL's.
#include "protocol/backend.h"
#include "protocol/frontend.h"
#include "protocol/md5_auth.h"
#include "protocol/scram_server.h"
#include "proxy/auth/auth_query.h"
#include "proxy/base/log.h"
#include "proxy/net/stream_io.h"
#include "proxy/net/tls.h"
#include "proxy/session/client_login.h"

namespace cutover::proxy {
namespace {

namespace scram = protocol::scram;

constexpr size_t kNonceBytes = 18;  // as PostgreSQL
// SASL and password messages are small; PostgreSQL's own limit for them is in this range.
constexpr size_t kMaxAuthResponse = 10000;

// A verifier for a user that does not exist (or cannot do SCRAM): the exchange runs to the end
// and fails like a wrong password, as PostgreSQL's mock authentication does, so a client cannot
// tell names that exist from names that do not. The salt is a keyed hash of the name (stable
// within a process); the keys are random, so no proof can match.
scram::Verifier mock_verifier(const scram::Key& mock_key, std::string_view user) {
  scram::Verifier verifier;
  // server_signature is HMAC-SHA-256(key, message): used here only as a keyed hash.
  scram::Key salt = scram::server_signature(mock_key, std::string("salt:") + std::string(user));
  verifier.salt.assign(salt.begin(), salt.begin() + scram::kDefaultSaltBytes);
  std::string random = random_bytes(2 * verifier.stored_key.size());
  std::copy_n(random.begin(), verifier.stored_key.size(), verifier.stored_key.begin());
  std::copy_n(random.begin() + verifier.stored_key.size(), verifier.server_key.size(),
              verifier.server_key.begin());
  return verifier;
}

std::string auth_message(const protocol::BackendMessage& request) {
  std::string out;
  protocol::encode(request, out);
  return out;
}

}  // namespace

asio::awaitable<bool> ClientLogin::authenticate(Accepted& client) {
  ErrorCode ec;
  auto peer = client_.stream.socket().remote_endpoint(ec);
  if (!ec && context_.trusted.contains(peer.address())) {
    log::info("client_trusted", {{"conn", conn_id_}, {"user", user_}});
    co_return true;
  }
  if (context_.config.auth.method == AuthMethod::kTrust) {
    log::warn("client_rejected", {{"conn", conn_id_}, {"reason", "address not trusted"}});
    co_await client_.send_fatal("28000", "no trust entry for host \"" + client_address_ +
                                             "\", user \"" + user_ + "\", database \"" + database_ +
                                             "\" (auth.trust_addresses)");
    co_return false;
  }
  std::optional<Secret> secret;
  if (!co_await find_secret(secret)) co_return false;
  if (context_.config.auth.method == AuthMethod::kMd5 && secret && !secret->md5.empty()) {
    co_return co_await md5_exchange(*secret);
  }
  // As PostgreSQL: md5 in the configuration still means SCRAM for users with a SCRAM verifier.
  co_return co_await scram_exchange(secret, client);
}

asio::awaitable<bool> ClientLogin::find_secret(std::optional<Secret>& secret) {
  if (const Secret* listed = secrets_.users.find(user_)) {
    secret = *listed;
    co_return true;
  }
  if (context_.config.auth.auth_query.empty()) co_return true;
  auto result = co_await query_secret(context_.config, secrets_, user_, database_);
  if (!result.ok) {
    log::error("auth_query_failed", {{"conn", conn_id_}, {"user", user_}, {"error", result.error}});
    co_await client_.send_fatal("08006", "cutover could not look up the user's credentials");
    co_return false;
  }
  secret = std::move(result.secret);
  co_return true;
}

asio::awaitable<bool> ClientLogin::scram_exchange(const std::optional<Secret>& secret,
                                                  Accepted& client) {
  bool known = secret && secret->scram;
  if (!known) {
    log::info("client_auth_unknown", {{"conn", conn_id_},
                                      {"user", user_},
                                      {"reason", secret ? "no SCRAM verifier" : "no such user"}});
  }
  scram::ServerExchange exchange(known ? *secret->scram : mock_verifier(context_.mock_key, user_),
                                 scram::base64_encode(random_bytes(kNonceBytes)),
                                 channel_binding_of(client_.stream, true));
  protocol::AuthenticationSASL offer;
  if (exchange.offers_plus()) offer.mechanisms.emplace_back(scram::kMechanismPlus);
  offer.mechanisms.emplace_back(scram::kMechanism);
  // Messages go into named locals before co_await: GCC 12 can destroy a temporary built inside
  // a co_await expression twice (GCC bug 101367 and relatives).
  std::string out = auth_message(offer);
  if (!co_await client_.write(out)) co_return false;

  auto first = co_await read_auth_response();
  if (!first) co_return false;
  auto initial = protocol::decode_sasl_initial_response(*first);
  auto server_first = initial
                          ? exchange.on_client_first(initial->mechanism, initial->data.value_or(""))
                          : protocol::Result<std::string>(initial.error());
  if (!server_first) {
    co_await client_.send_fatal("08P01", "malformed SCRAM message");
    co_return false;
  }
  out = auth_message(protocol::AuthenticationSASLContinue{*server_first});
  if (!co_await client_.write(out)) co_return false;
  auto final_message = co_await read_auth_response();
  if (!final_message) co_return false;
  auto response = protocol::decode_sasl_response(*final_message);
  auto server_final = response ? exchange.on_client_final(response->data)
                               : protocol::Result<std::string>(response.error());
  if (!server_final) {
    if (server_final.error() != protocol::ProtocolError::kAuthenticationFailed) {
      co_await client_.send_fatal("08P01", "malformed SCRAM message");
    } else {
      co_await reject_password(known ? "wrong password" : "unknown user");
    }
    co_return false;
  }
  if (context_.config.auth.method == AuthMethod::kPassthrough) {
    client.client_key = exchange.client_key();
    client.verifier = *secret->scram;
  }
  out = auth_message(protocol::AuthenticationSASLFinal{*server_final});
  co_return co_await client_.write(out);
}

asio::awaitable<bool> ClientLogin::md5_exchange(const Secret& secret) {
  std::string salt_bytes = random_bytes(4);
  protocol::AuthenticationMD5Password request;
  std::array<uint8_t, 4> salt{};
  for (size_t i = 0; i < salt.size(); ++i) {
    request.salt[i] = salt_bytes[i];
    salt[i] = static_cast<uint8_t>(salt_bytes[i]);
  }
  std::string out = auth_message(request);
  if (!co_await client_.write(out)) co_return false;
  auto body = co_await read_auth_response();
  if (!body) co_return false;
  auto password = protocol::decode_password_message(*body);
  if (!password) {
    co_await client_.send_fatal("08P01", "malformed password packet");
    co_return false;
  }
  if (!protocol::verify_md5_response(secret.md5, salt, password->password)) {
    co_await reject_password("wrong password");
    co_return false;
  }
  co_return true;
}

// The body of the client's next 'p' message; nullopt (after an error where one is due) when
// the client leaves or sends something else. psql leaves here to prompt for a password.
asio::awaitable<std::optional<std::string>> ClientLogin::read_auth_response() {
  auto message =
      co_await read_message(client_.stream, client_.in, false, kMaxAuthResponse, protocol_error_);
  if (!message) {
    if (protocol_error_ != protocol::ProtocolError{}) {
      co_await client_.send_fatal("08P01", "invalid authentication message");
    } else {
      log::info("client_left_during_auth", {{"conn", conn_id_}, {"user", user_}});
    }
    co_return std::nullopt;
  }
  if (message->type != 'p') {
    co_await client_.send_fatal(
        "08P01", std::string("expected password response, got message type ") + message->type);
    co_return std::nullopt;
  }
  co_return std::move(message->body);
}

asio::awaitable<void> ClientLogin::reject_password(std::string_view reason) {
  context_.metrics.auth_failure();
  log::warn("client_auth_failed",
            {{"conn", conn_id_}, {"user", user_}, {"client", client_address_}, {"reason", reason}});
  co_await client_.send_fatal("28P01", "password authentication failed for user \"" + user_ + "\"");
}

}  // namespace cutover::proxy
