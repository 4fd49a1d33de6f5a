// The client's connection and what belongs to it: the stream, bytes read and not yet relayed,
// the read window, the scanner over the client's messages, and whether what the client got so
// far ends with a whole message (only then may cutover add a message of its own). Also the
// hold on old's relay while an answer from new is written, so the two never interleave.
// Not the servers' connections (backend_link.h).
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

#include "protocol/framing.h"
#include "proxy/net/asio.h"
#include "proxy/net/event.h"
#include "proxy/net/stream.h"

namespace cutover::proxy {

// How long a closing session waits for a peer to take its last message.
inline constexpr auto kFinalWriteTimeout = std::chrono::seconds(1);

struct ClientLink {
  ClientLink(Socket socket, size_t max_message)
      : stream(std::move(socket)),
        scanner("", max_message),
        writes_signal(stream.socket().get_executor()) {}

  asio::any_io_executor executor() { return stream.socket().get_executor(); }

  // Writes `bytes`; false when the client is gone. write() goes through the scheduler,
  // relay() not when the socket (non-blocking once the relay runs) takes the bytes at once.
  asio::awaitable<bool> write(std::string_view bytes);
  asio::awaitable<bool> relay(std::string_view bytes);
  // Whether cutover may add a message of its own: nothing was cut short and the client's
  // stream is at a message boundary.
  bool writable() const { return write_whole && at_boundary && stream.is_open(); }
  // A FATAL ErrorResponse, when writable(), given kFinalWriteTimeout to go out.
  asio::awaitable<void> send_fatal(std::string_view sqlstate, std::string_view message);

  // Keeps old's relay from writing to the client (it waits in wait_for_writes()) until
  // release_writes(), once a write it had begun is complete.
  asio::awaitable<void> hold_writes();
  void release_writes();
  asio::awaitable<void> wait_for_writes() { co_await writes_signal.wait(); }

  Stream stream;
  std::string in{};                  // read and not yet relayed (first: what came with startup)
  std::unique_ptr<char[]> window{};  // the read window, allocated when the relay starts
  protocol::FrameScanner scanner;
  bool write_whole = true;  // no write to the client was cut short
  bool at_boundary = true;  // what the client got so far ends with a whole message
  // While new's answer is written, old's relay holds unsolicited messages (NOTIFY, notices)
  // back; writes_signal wakes it.
  bool writes_held = false;
  Event writes_signal;
};

}  // namespace cutover::proxy
