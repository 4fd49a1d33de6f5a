#include "proxy/auth/backend_login.h"

#include "protocol/framing.h"
#include "protocol/md5_auth.h"
#include "protocol/scram_client.h"
#include "protocol/startup.h"
#include "proxy/net/tls.h"

namespace cutover::proxy {
namespace {

using namespace asio::experimental::awaitable_operators;
namespace scram = protocol::scram;

// Login-time messages (ParameterStatus, ErrorResponse, SASL data) are small; a larger one means
// the peer is not a PostgreSQL server we understand.
constexpr size_t kMaxLoginMessage = 1 << 20;
constexpr size_t kNonceBytes = 18;  // as libpq

LoginResult failure(std::string sqlstate, std::string reason) {
  LoginResult result;
  result.sqlstate = std::move(sqlstate);
  result.reason = std::move(reason);
  return result;
}

class BackendLogin {
 public:
  BackendLogin(Stream& stream, const BackendTarget& target, const LoginIdentity& identity)
      : stream_(stream), target_(target), identity_(identity) {}

  asio::awaitable<LoginResult> run() {
    if (auto refused = co_await negotiate_tls()) co_return *refused;
    protocol::StartupMessage startup;
    startup.parameters = {{"user", identity_.user}, {"database", identity_.database}};
    for (const auto& parameter : identity_.parameters) startup.parameters.push_back(parameter);
    std::string bytes;
    protocol::encode(startup, bytes);
    if (co_await stream_.write(bytes)) co_return lost();
    if (auto failed = co_await authenticate()) co_return *failed;
    co_return co_await collect_parameters();
  }

 private:
  // nullopt when the login may go on (encrypted, or plaintext that sslmode allows).
  asio::awaitable<std::optional<LoginResult>> negotiate_tls() {
    const SslMode mode = target_.config.sslmode;
    if (mode == SslMode::kDisable) co_return std::nullopt;
    std::string request;
    protocol::encode(protocol::SSLRequest{}, request);
    if (co_await stream_.write(request)) co_return lost();
    char answer = 0;
    auto [ec, n] = co_await asio::async_read(stream_.socket(), asio::buffer(&answer, 1));
    if (ec) co_return lost();
    if (answer == 'N') {
      if (mode == SslMode::kPrefer) co_return std::nullopt;
      co_return failure("08006", "the " + target_.name + " database does not accept TLS (sslmode " +
                                     ssl_mode_name(target_.config.sslmode) + ")");
    }
    if (answer != 'S') {
      co_return failure("08P01", "the " + target_.name +
                                     " database answered the TLS request with '" +
                                     std::string(1, answer) + "'");
    }
    const auto& config = target_.config;
    const std::string& name = config.sslservername.empty() ? config.host : config.sslservername;
    ErrorCode handshake =
        co_await stream_.connect_tls(target_.secrets.tls, name, mode == SslMode::kVerifyFull);
    if (handshake) {
      co_return failure("08006", "TLS handshake with the " + target_.name +
                                     " database failed: " + handshake.message());
    }
    channel_binding_ = channel_binding_of(stream_, false);
    co_return std::nullopt;
  }

  // nullopt once AuthenticationOk arrived.
  asio::awaitable<std::optional<LoginResult>> authenticate() {
    for (;;) {
      auto message = co_await next();
      if (!message) co_return lost();
      if (message->type == 'E') co_return server_failure(std::move(*message));
      if (message->type != 'R') continue;  // NoticeResponse, NegotiateProtocolVersion
      auto request = protocol::decode_backend('R', message->body);
      if (!request) co_return failure("08P01", "unreadable authentication request");
      if (std::holds_alternative<protocol::AuthenticationOk>(*request)) co_return std::nullopt;
      auto response = answer(*request);
      if (!response) co_return failure_;
      if (response->empty()) continue;  // SASLFinal checked: AuthenticationOk comes next
      std::string bytes;
      append_message(bytes, 'p', *response);
      if (co_await stream_.write(bytes)) co_return lost();
    }
  }

  // The body of the 'p' message answering `request`, "" when none is due, nullopt on failure
  // (failure_ says why).
  std::optional<std::string> answer(const protocol::BackendMessage& request) {
    if (std::holds_alternative<protocol::AuthenticationCleartextPassword>(request)) {
      if (!has_password()) return std::nullopt;
      return identity_.password + '\0';
    }
    if (const auto* md5 = std::get_if<protocol::AuthenticationMD5Password>(&request)) {
      if (!has_password()) return std::nullopt;
      std::array<uint8_t, 4> salt{};
      for (size_t i = 0; i < salt.size(); ++i) salt[i] = static_cast<uint8_t>(md5->salt[i]);
      return protocol::md5_response(protocol::md5_secret(identity_.password, identity_.user),
                                    salt) +
             '\0';
    }
    if (const auto* sasl = std::get_if<protocol::AuthenticationSASL>(&request)) {
      return start_scram(sasl->mechanisms);
    }
    if (const auto* more = std::get_if<protocol::AuthenticationSASLContinue>(&request)) {
      if (!scram_) return refuse("08P01", "SASL data before the SASL exchange began");
      auto final_message = scram_->on_server_first(more->data);
      if (!final_message &&
          final_message.error() == protocol::ProtocolError::kAuthenticationFailed) {
        return refuse("28P01", "the " + target_.name + " database's SCRAM verifier for \"" +
                                   identity_.user +
                                   "\" differs from the one the client was checked against "
                                   "(salt or iterations); pass-through needs the same verifier");
      }
      if (!final_message) return refuse("08006", "bad SCRAM server-first-message");
      return *final_message;
    }
    if (const auto* last = std::get_if<protocol::AuthenticationSASLFinal>(&request)) {
      if (!scram_ || !scram_->on_server_final(last->data)) {
        return refuse("08006", "the " + target_.name +
                                   " database's SCRAM signature is wrong: it does not know the "
                                   "password (or something is in between)");
      }
      return std::string();
    }
    return refuse("08006", "the " + target_.name +
                               " database asks for an authentication method cutover does not "
                               "support (only password, md5, SCRAM-SHA-256)");
  }

  std::optional<std::string> start_scram(const std::vector<std::string>& mechanisms) {
    scram::ClientCredentials credentials;
    if (identity_.client_key && identity_.verifier) {
      credentials.client_key = *identity_.client_key;
      credentials.verifier = *identity_.verifier;
    } else if (has_password()) {
      credentials.password = identity_.password;
    } else {
      return std::nullopt;
    }
    scram_.emplace(std::move(credentials), scram::base64_encode(random_bytes(kNonceBytes)),
                   channel_binding_);
    auto mechanism = scram_->choose_mechanism(mechanisms);
    if (!mechanism) return refuse("08006", "no SCRAM mechanism cutover can use was offered");
    std::string body = *mechanism + '\0';
    std::string first = scram_->client_first();
    for (int shift = 24; shift >= 0; shift -= 8) {
      body.push_back(static_cast<char>(static_cast<uint32_t>(first.size()) >> shift));
    }
    return body + first;
  }

  asio::awaitable<LoginResult> collect_parameters() {
    LoginResult result;
    for (;;) {
      auto message = co_await next();
      if (!message) co_return lost();
      if (message->type == 'E') co_return server_failure(std::move(*message));
      if (message->type == 'K') {
        auto key = protocol::decode_backend('K', message->body);
        if (!key) co_return failure("08P01", "unreadable BackendKeyData");
        result.key = std::get<protocol::BackendKeyData>(*key);
        continue;
      }
      append_message(result.messages, message->type, message->body);
      if (message->type == 'Z') {
        result.ok = true;
        if (message->body.size() == 1) result.transaction_status = message->body[0];
        result.leftover = std::move(buffer_);
        co_return result;
      }
    }
  }

  bool has_password() {
    if (!identity_.password.empty()) return true;
    refuse("08006", "the " + target_.name + " database asks for a password but none is set for " +
                        "user \"" + identity_.user + "\" (backends." + target_.name +
                        ".password_file)");
    return false;
  }

  std::optional<std::string> refuse(std::string sqlstate, std::string reason) {
    failure_ = failure(std::move(sqlstate), std::move(reason));
    return std::nullopt;
  }

  LoginResult lost() const {
    if (error_ != protocol::ProtocolError{}) {
      return failure("08P01", "the " + target_.name + " database sent an invalid message: " +
                                  make_error_code(error_).message());
    }
    return failure("08006", "the " + target_.name + " database closed the connection during login");
  }

  static LoginResult server_failure(Message error) {
    LoginResult result;
    result.server_error = std::move(error);
    return result;
  }

  asio::awaitable<std::optional<Message>> next() {
    return read_message(stream_, buffer_, false, kMaxLoginMessage, error_);
  }

  Stream& stream_;
  const BackendTarget& target_;
  const LoginIdentity& identity_;
  std::string buffer_;
  protocol::ProtocolError error_{};
  std::string channel_binding_;
  std::optional<scram::ClientExchange> scram_;
  LoginResult failure_;
};

}  // namespace

std::optional<std::string> parameter_status(std::string_view messages, std::string_view name) {
  while (!messages.empty()) {
    auto frame = protocol::next_frame(messages, messages.size());
    if (frame.status != protocol::FrameStatus::kFrame) break;
    if (frame.type == 'S') {
      auto status = protocol::decode_backend('S', frame.body);
      if (status && std::get<protocol::ParameterStatus>(*status).name == name) {
        return std::get<protocol::ParameterStatus>(*status).value;
      }
    }
    messages.remove_prefix(frame.consumed);
  }
  return std::nullopt;
}

std::optional<std::string> first_column(std::string_view data_row) {
  auto row = protocol::decode_backend('D', data_row);
  if (!row) return std::nullopt;
  const auto& columns = std::get<protocol::DataRow>(*row).columns;
  return columns.empty() ? std::nullopt : columns[0];
}

std::string error_message(const Message& error) {
  auto decoded = protocol::decode_backend(error.type, error.body);
  if (!decoded) return "unreadable ErrorResponse";
  const auto& fields = std::get<protocol::ErrorFields>(*decoded);
  return std::string(fields.get('C').value_or("?")) + ": " +
         std::string(fields.get('M').value_or("(no message)"));
}

std::string sqlstate_of(const Message& error) {
  auto decoded = protocol::decode_backend(error.type, error.body);
  if (!decoded) return "";
  return std::string(std::get<protocol::ErrorFields>(*decoded).get('C').value_or(""));
}

std::string failure_message(const LoginResult& result) {
  return result.server_error ? error_message(*result.server_error)
                             : result.sqlstate + ": " + result.reason;
}

asio::awaitable<ErrorCode> connect_to(Socket& socket, const std::string& host, uint16_t port) {
  ErrorCode ec;
  auto address = asio::ip::make_address(host, ec);
  if (!ec) {
    auto [connect_ec] = co_await socket.async_connect(tcp::endpoint(address, port));
    co_return connect_ec;
  }
  Token::as_default_on_t<tcp::resolver> resolver(co_await asio::this_coro::executor);
  auto [resolve_ec, endpoints] = co_await resolver.async_resolve(host, std::to_string(port));
  if (resolve_ec) co_return resolve_ec;
  auto [connect_ec, endpoint] = co_await asio::async_connect(socket, endpoints);
  co_return connect_ec;
}

asio::awaitable<bool> send_cancel_request(BackendKey key, std::chrono::milliseconds timeout) {
  Stream stream(co_await asio::this_coro::executor);
  auto connected = co_await (connect_to(stream.socket(), key.host, key.port) || sleep_for(timeout));
  if (connected.index() == 1 || std::get<0>(connected)) co_return false;
  std::string bytes;
  protocol::encode(protocol::CancelRequest{key.process_id, key.secret_key}, bytes);
  auto sent = co_await (stream.write(bytes) || sleep_for(timeout));
  stream.close();
  co_return sent.index() == 0 && !std::get<0>(sent);
}

BackendTarget backend_target(const Config& config, const Secrets& secrets, router::Backend db) {
  if (db == router::Backend::kOld) return {"old", config.backends.old_db, secrets.old_db};
  return {"new", config.backends.new_db, secrets.new_db};
}

asio::awaitable<LoginResult> login_backend(Stream& stream, const BackendTarget& target,
                                           const LoginIdentity& identity,
                                           std::chrono::milliseconds connect_timeout) {
  const auto& config = target.config;
  auto connected = co_await (connect_to(stream.socket(), config.host, config.port) ||
                             sleep_for(connect_timeout));
  std::string reason;
  if (connected.index() == 1) {
    reason = "timed out";
  } else if (ErrorCode ec = std::get<0>(connected)) {
    reason = ec.message();
  }
  if (!reason.empty()) {
    co_return failure("08006", "could not connect to the " + target.name + " database: " + reason);
  }
  ErrorCode ignored;
  stream.socket().set_option(tcp::no_delay(true), ignored);
  stream.socket().set_option(asio::socket_base::keep_alive(true), ignored);
  BackendLogin login(stream, target, identity);
  co_return co_await login.run();
}

}  // namespace cutover::proxy
