// Session start-up: SSL/GSS negotiation refusal, cancel forwarding, the client limit, the
// backend connection, and the backend's authentication exchange relayed to the client.
#include "protocol/backend.h"
#include "protocol/frontend.h"
#include "proxy/log.h"
#include "proxy/session.h"

namespace cutover::proxy {
namespace {

using namespace asio::experimental::awaitable_operators;

// Login-time backend messages (ParameterStatus, ErrorResponse, SASL data) are small; a larger
// one means the peer is not a PostgreSQL server we understand.
constexpr size_t kMaxLoginMessage = 1 << 20;

void append_frame(std::string& out, char type, std::string_view body) {
  out.push_back(type);
  auto len = static_cast<uint32_t>(body.size() + 4);
  for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<char>(len >> shift));
  out.append(body);
}

// Whether the client must answer this authentication request with a 'p' message.
bool needs_client_response(const protocol::BackendMessage& m) {
  return std::holds_alternative<protocol::AuthenticationCleartextPassword>(m) ||
         std::holds_alternative<protocol::AuthenticationMD5Password>(m) ||
         std::holds_alternative<protocol::AuthenticationGSS>(m) ||
         std::holds_alternative<protocol::AuthenticationGSSContinue>(m) ||
         std::holds_alternative<protocol::AuthenticationSSPI>(m) ||
         std::holds_alternative<protocol::AuthenticationSASL>(m) ||
         std::holds_alternative<protocol::AuthenticationSASLContinue>(m);
}

// A database host given as an address needs no resolver round trip.
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

}  // namespace

asio::awaitable<std::optional<Session::OwnedFrame>> Session::read_frame(Socket& socket,
                                                                        std::string& buffer,
                                                                        bool startup_family,
                                                                        size_t max_body) {
  char chunk[4096];
  for (;;) {
    auto frame = startup_family ? protocol::next_startup_frame(buffer, max_body)
                                : protocol::next_frame(buffer, max_body);
    if (frame.status == protocol::FrameStatus::kFrame) {
      OwnedFrame owned{frame.type, std::string(frame.body)};
      buffer.erase(0, frame.consumed);
      co_return owned;
    }
    if (frame.status == protocol::FrameStatus::kError) {
      protocol_error_ = frame.error;
      log::warn("login_protocol_error", {{"conn", id_},
                                         {"peer", &socket == &client_ ? "client" : "database"},
                                         {"error", make_error_code(frame.error).message()}});
      co_return std::nullopt;
    }
    auto [ec, n] = co_await socket.async_read_some(asio::buffer(chunk));
    if (ec) co_return std::nullopt;
    buffer.append(chunk, n);
  }
}

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
  if (!co_await connect_backend()) co_return false;
  std::string bytes;
  protocol::encode(*startup, bytes);
  auto [ec, n] = co_await asio::async_write(backend_, asio::buffer(bytes));
  if (ec) {
    co_await send_fatal("08006", "lost the connection to the database during login");
    co_return false;
  }
  co_return co_await relay_authentication() && co_await relay_login_parameters();
}

asio::awaitable<std::optional<protocol::StartupMessage>> Session::read_startup_message() {
  for (;;) {
    auto frame = co_await read_frame(client_, client_in_, true, protocol::kMaxStartupPacket);
    if (!frame) {
      if (protocol_error_ != protocol::ProtocolError{}) {
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
    // SSLRequest or GSSENCRequest: cutover does not encrypt yet, so it answers 'N' and the client
    // goes on in plaintext. Bytes sent before that answer cannot have been meant for us.
    if (!client_in_.empty()) {
      log::warn("client_protocol_error",
                {{"conn", id_}, {"error", "data received after an encryption request"}});
      co_await send_fatal("08P01", "received unencrypted data after SSL request");
      co_return std::nullopt;
    }
    if (!co_await write_to_client("N")) co_return std::nullopt;
  }
}

asio::awaitable<bool> Session::connect_backend() {
  const BackendConfig& target = config_.backends.old_db;
  auto result = co_await (connect_to(backend_, target.host, target.port) ||
                          sleep_for(config_.timeouts.backend_connect));
  std::string reason;
  if (result.index() == 1) {
    reason = "timed out";
  } else if (ErrorCode ec = std::get<0>(result)) {
    reason = ec.message();
  }
  if (!reason.empty()) {
    log::error("backend_connect_failed", {{"conn", id_},
                                          {"backend", "old"},
                                          {"host", target.host},
                                          {"port", target.port},
                                          {"error", reason}});
    co_await send_fatal("08006", "could not connect to the old database: " + reason);
    co_return false;
  }
  ErrorCode ignored;
  backend_.set_option(tcp::no_delay(true), ignored);
  backend_.set_option(asio::socket_base::keep_alive(true), ignored);
  co_return true;
}

asio::awaitable<bool> Session::relay_authentication() {
  for (;;) {
    auto frame = co_await read_frame(backend_, backend_in_, false, kMaxLoginMessage);
    if (!frame) {
      co_await send_fatal("08006", "the database closed the connection during login");
      co_return false;
    }
    std::string out;
    append_frame(out, frame->type, frame->body);
    if (!co_await write_to_client(out)) co_return false;
    if (frame->type == 'E') co_return false;  // e.g. 28P01 or 3D000, already relayed
    if (frame->type != 'R') continue;         // NegotiateProtocolVersion, notices
    auto request = protocol::decode_backend('R', frame->body);
    if (!request) {
      co_await send_fatal("08P01", "invalid authentication request from the database");
      co_return false;
    }
    if (std::holds_alternative<protocol::AuthenticationOk>(*request)) co_return true;
    if (!needs_client_response(*request)) continue;
    auto answer = co_await read_frame(client_, client_in_, false, protocol::kMaxStartupPacket);
    if (!answer) co_return false;  // a client that gives up on a password prompt just leaves
    if (answer->type != 'p') {
      co_await send_fatal("08P01", "expected an authentication response");
      co_return false;
    }
    out.clear();
    append_frame(out, answer->type, answer->body);
    auto [wec, wn] = co_await asio::async_write(backend_, asio::buffer(out));
    if (wec) co_return false;
  }
}

asio::awaitable<bool> Session::relay_login_parameters() {
  std::string out;
  for (;;) {
    auto frame = co_await read_frame(backend_, backend_in_, false, kMaxLoginMessage);
    if (!frame) {
      co_await send_fatal("08006", "the database closed the connection during login");
      co_return false;
    }
    if (frame->type == 'K') {
      auto key = protocol::decode_backend('K', frame->body);
      if (!key) {
        co_await send_fatal("08P01", "the database sent a cancel key cutover cannot read");
        co_return false;
      }
      const auto& backend_key = std::get<protocol::BackendKeyData>(*key);
      const BackendConfig& target = config_.backends.old_db;
      client_key_ = context_.cancels.add(
          {target.host, target.port, backend_key.process_id, backend_key.secret_key});
      protocol::encode(protocol::BackendKeyData{client_key_->process_id, client_key_->secret_key},
                       out);
      continue;
    }
    append_frame(out, frame->type, frame->body);
    if (frame->type == 'Z' || frame->type == 'E') {
      if (frame->type == 'Z' && frame->body.size() == 1) transaction_status_ = frame->body[0];
      co_return co_await write_to_client(out) && frame->type == 'Z';
    }
  }
}

asio::awaitable<void> Session::forward_cancel(int32_t process_id, int32_t secret_key) {
  auto key = context_.cancels.find(process_id, secret_key);
  if (!key) {
    log::warn("cancel_unknown_key", {{"conn", id_}, {"pid", process_id}});
    co_return;
  }
  Socket socket(co_await asio::this_coro::executor);
  auto connected = co_await (connect_to(socket, key->host, key->port) ||
                             sleep_for(config_.timeouts.backend_connect));
  if (connected.index() == 1 || std::get<0>(connected)) {
    log::error("cancel_forward_failed", {{"conn", id_}, {"pid", process_id}});
    co_return;
  }
  std::string bytes;
  protocol::encode(protocol::CancelRequest{key->process_id, key->secret_key}, bytes);
  co_await write_bounded(socket, bytes);
  log::info("cancel_forwarded", {{"conn", id_}, {"pid", process_id}});
}

}  // namespace cutover::proxy
