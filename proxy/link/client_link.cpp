#include "proxy/link/client_link.h"

#include "protocol/backend.h"
#include "proxy/net/stream_io.h"

namespace cutover::proxy {

asio::awaitable<bool> ClientLink::write(std::string_view bytes) {
  write_whole = false;
  const ErrorCode ec = co_await stream.write(bytes);
  write_whole = !ec;
  co_return !ec;
}

asio::awaitable<bool> ClientLink::relay(std::string_view bytes) {
  write_whole = false;
  const ErrorCode ec = co_await write_all(stream, bytes);
  write_whole = !ec;
  co_return !ec;
}

asio::awaitable<void> ClientLink::send_fatal(std::string_view sqlstate, std::string_view message) {
  if (!writable()) co_return;
  std::string bytes;
  protocol::encode_error(bytes, "FATAL", sqlstate, message);
  co_await write_bounded(stream, bytes, kFinalWriteTimeout);
}

asio::awaitable<void> ClientLink::hold_writes() {
  writes_held = true;
  while (!write_whole) co_await wait_for_writes();
}

void ClientLink::release_writes() {
  writes_held = false;
  writes_signal.notify();
}

}  // namespace cutover::proxy
