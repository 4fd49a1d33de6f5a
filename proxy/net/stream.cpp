#include "proxy/net/stream.h"

#include "protocol/framing.h"

namespace cutover::proxy {
asio::awaitable<ErrorCode> Stream::accept_tls(std::shared_ptr<ssl::context> context) {
  context_ = std::move(context);
  tls_.emplace(std::move(plain_), *context_);
  auto [ec] = co_await tls_->async_handshake(ssl::stream_base::server);
  co_return ec;
}

asio::awaitable<ErrorCode> Stream::connect_tls(std::shared_ptr<ssl::context> context,
                                               const std::string& server_name, bool verify_name) {
  context_ = std::move(context);
  tls_.emplace(std::move(plain_), *context_);
  ErrorCode not_an_address;
  (void)asio::ip::make_address(server_name, not_an_address);
  // RFC 6066: SNI carries host names only, never literal addresses.
  if (not_an_address) SSL_set_tlsext_host_name(tls_->native_handle(), server_name.c_str());
  if (verify_name) tls_->set_verify_callback(ssl::host_name_verification(server_name));
  auto [handshake_ec] = co_await tls_->async_handshake(ssl::stream_base::client);
  co_return handshake_ec;
}

asio::awaitable<std::pair<ErrorCode, size_t>> Stream::read_some(asio::mutable_buffer buffer) {
  if (tls_) {
    auto [ec, n] = co_await tls_->async_read_some(buffer);
    co_return std::pair{ec, n};
  }
  auto [ec, n] = co_await plain_.async_read_some(buffer);
  co_return std::pair{ec, n};
}

asio::awaitable<ErrorCode> Stream::write(std::string_view bytes) {
  if (tls_) {
    auto [ec, n] = co_await asio::async_write(*tls_, asio::buffer(bytes));
    co_return ec;
  }
  auto [ec, n] = co_await asio::async_write(plain_, asio::buffer(bytes));
  co_return ec;
}

asio::awaitable<std::optional<Message>> read_message(Stream& stream, std::string& buffer,
                                                     bool startup_family, size_t max_body,
                                                     protocol::ProtocolError& error) {
  char chunk[4096];
  for (;;) {
    auto frame = startup_family ? protocol::next_startup_frame(buffer, max_body)
                                : protocol::next_frame(buffer, max_body);
    if (frame.status == protocol::FrameStatus::kFrame) {
      Message message{frame.type, std::string(frame.body)};
      buffer.erase(0, frame.consumed);
      co_return message;
    }
    if (frame.status == protocol::FrameStatus::kError) {
      error = frame.error;
      co_return std::nullopt;
    }
    auto [ec, n] = co_await stream.read_some(asio::buffer(chunk));
    if (ec) co_return std::nullopt;
    buffer.append(chunk, n);
  }
}

void append_message(std::string& out, char type, std::string_view body) {
  out.push_back(type);
  auto length = static_cast<uint32_t>(body.size() + 4);
  for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<char>(length >> shift));
  out.append(body);
}

void Stream::close() {
  ErrorCode ignored;
  socket().shutdown(tcp::socket::shutdown_both, ignored);
  socket().close(ignored);
}

}  // namespace cutover::proxy
