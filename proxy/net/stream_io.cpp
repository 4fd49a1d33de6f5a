#include "proxy/net/stream_io.h"

#include <openssl/bio.h>
#include <openssl/ssl.h>

namespace cutover::proxy {

using namespace asio::experimental::awaitable_operators;

asio::awaitable<void> sleep_for(std::chrono::steady_clock::duration duration) {
  Timer timer(co_await asio::this_coro::executor, duration);
  co_await timer.async_wait();
}

// Waits for readiness, then reads what is there. Between requests a socket is empty, and a
// speculative recv() (what async_read_some does first) would only find that out; waiting first
// costs Asio one epoll_ctl that re-arms the edge-triggered registration, so no byte or EOF that
// arrived meanwhile goes unnoticed, and takes fewer trips through the scheduler. A read that
// filled the buffer may have left more behind, so the next one reads at once.
asio::awaitable<std::pair<ErrorCode, size_t>> read_ready(Stream& stream,
                                                         asio::mutable_buffer buffer,
                                                         bool& buffer_filled) {
  // TLS may hold decrypted bytes the socket no longer shows, so readiness says nothing there.
  if (stream.encrypted()) co_return co_await stream.read_some(buffer);
  Socket& socket = stream.socket();
  if (buffer_filled) {
    // Through the scheduler, so a stream faster than the proxy cannot starve other sessions.
    auto [ec, n] = co_await socket.async_read_some(buffer);
    buffer_filled = n == buffer.size();
    co_return std::pair{ec, n};
  }
  for (;;) {
    auto [wait_ec] = co_await socket.async_wait(tcp::socket::wait_read);
    if (wait_ec) co_return std::pair{wait_ec, size_t{0}};
    ErrorCode ec;
    size_t n = socket.read_some(buffer, ec);
    buffer_filled = n == buffer.size();
    if (ec != asio::error::would_block) co_return std::pair{ec, n};
  }
}

namespace {

asio::awaitable<void> readable(Socket& socket) {
  co_await socket.async_wait(tcp::socket::wait_read);
}

// Whether TLS already holds bytes of the client's, decrypted or not yet: read from the socket
// into OpenSSL's input (Asio's BIO pair), which the socket's readiness no longer shows.
bool tls_holds_input(Stream& stream) {
  SSL* ssl = stream.ssl_handle();
  return SSL_pending(ssl) > 0 || BIO_ctrl_pending(SSL_get_rbio(ssl)) > 0;
}

}  // namespace

asio::awaitable<bool> readable_within(Stream& stream, std::chrono::steady_clock::duration limit) {
  if (stream.encrypted() && tls_holds_input(stream)) co_return true;
  auto ready = co_await (readable(stream.socket()) || sleep_for(limit));
  co_return ready.index() == 0;
}

// Writes all of `bytes`, without a trip through the scheduler when the socket takes them at
// once (the common case for a relay).
asio::awaitable<ErrorCode> write_all(Stream& stream, std::string_view bytes) {
  if (stream.encrypted()) co_return co_await stream.write(bytes);
  Socket& socket = stream.socket();
  ErrorCode ec;
  size_t n = socket.write_some(asio::buffer(bytes), ec);
  if (ec == asio::error::would_block) {
    n = 0;
    ec = {};
  }
  if (ec || n == bytes.size()) co_return ec;
  auto [rest_ec, rest] = co_await asio::async_write(socket, asio::buffer(bytes.substr(n)));
  co_return rest_ec;
}

asio::awaitable<bool> write_bounded(Stream& stream, std::string_view bytes,
                                    std::chrono::steady_clock::duration limit) {
  auto result = co_await (stream.write(bytes) || sleep_for(limit));
  co_return result.index() == 0 && !std::get<0>(result);
}

}  // namespace cutover::proxy
