// The client's connection and what belongs to it: the stream, bytes read and not yet relayed,
// the read window, the scanner over the client's messages, and whether what the client got so
// far ends with a whole message (only then may cutover add a message of its own). Also the
// hold on old's relay while an answer from new is written, so the two never interleave.
// Not the servers' connections (backend_link.h).
#pragma once

#include <cstddef>
#include <memory>
#include <string>

#include "protocol/framing.h"
#include "proxy/net/asio.h"
#include "proxy/net/event.h"
#include "proxy/net/stream.h"

namespace cutover::proxy {

struct ClientLink {
  ClientLink(Socket socket, size_t max_message)
      : stream(std::move(socket)),
        scanner("", max_message),
        writes_signal(stream.socket().get_executor()) {}

  asio::any_io_executor executor() { return stream.socket().get_executor(); }

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
