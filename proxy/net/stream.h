// One TCP connection that is plaintext or, after a handshake, TLS: what a session reads from and
// writes to on either side. Not the TLS settings themselves (tls.h).
#pragma once

#include <boost/asio/ssl.hpp>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "protocol/error.h"
#include "proxy/net/asio.h"

namespace cutover::proxy {

namespace ssl = asio::ssl;

class Stream {
 public:
  explicit Stream(Socket socket) : plain_(std::move(socket)) {}
  explicit Stream(const asio::any_io_executor& executor) : plain_(executor) {}

  // The TCP layer, for options, addresses, readiness waits and closing.
  Socket& socket() { return tls_ ? tls_->next_layer() : plain_; }
  bool is_open() const { return tls_ ? tls_->next_layer().is_open() : plain_.is_open(); }
  bool encrypted() const { return tls_.has_value(); }
  // The OpenSSL connection; only while encrypted().
  SSL* ssl_handle() { return tls_->native_handle(); }

  // Starts TLS as the server. `context` is kept alive as long as the stream.
  asio::awaitable<ErrorCode> accept_tls(std::shared_ptr<ssl::context> context);
  // Starts TLS as the client; `server_name` goes out as SNI (unless it is an address) and,
  // with `verify_name`, must match the certificate.
  asio::awaitable<ErrorCode> connect_tls(std::shared_ptr<ssl::context> context,
                                         const std::string& server_name, bool verify_name);

  asio::awaitable<std::pair<ErrorCode, size_t>> read_some(asio::mutable_buffer buffer);
  asio::awaitable<ErrorCode> write(std::string_view bytes);

  // Closes the TCP connection at once (no TLS close_notify: PostgreSQL peers do not need it).
  void close();

 private:
  Socket plain_;  // moved into tls_ when TLS starts
  std::shared_ptr<ssl::context> context_;
  std::optional<ssl::stream<Socket>> tls_;
};

// One whole protocol message, owned.
struct Message {
  char type = '\0';  // '\0' for a startup-family packet, which has none
  std::string body;
};

// Reads the next message from `stream`, keeping bytes beyond it in `buffer` (bytes already there
// are used first). nullopt when the stream ends or fails, or the bytes are not a valid message
// (then `error` says why). `startup_family` reads an untyped startup packet.
asio::awaitable<std::optional<Message>> read_message(Stream& stream, std::string& buffer,
                                                     bool startup_family, size_t max_body,
                                                     protocol::ProtocolError& error);

// Writes one message built from type and body.
void append_message(std::string& out, char type, std::string_view body);

}  // namespace cutover::proxy
