// Incremental framing of a PostgreSQL v3 byte stream: whole frames for messages the proxy
// decodes, and a streaming scanner that finds message boundaries in relayed bytes.
// Not a decoder of message bodies (see startup.h, frontend.h, backend.h).
//
// Protocol docs: "Message Formats" and "Message Flow / Start-up" (protocol-message-formats.html).
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <type_traits>

#include "protocol/error.h"

namespace cutover::protocol {

inline constexpr size_t kHeaderSize = 5;  // type byte + length word
// PostgreSQL itself refuses startup packets above 10000 bytes (MAX_STARTUP_PACKET_LENGTH).
inline constexpr size_t kMaxStartupPacket = 10000;

enum class FrameStatus { kNeedMore, kFrame, kError };

struct FrameResult {
  FrameStatus status = FrameStatus::kNeedMore;
  char type = '\0';       // '\0' for the untyped startup family
  std::string_view body;  // the bytes after the length word
  size_t consumed = 0;    // bytes of input the frame occupies
  ProtocolError error{};  // set when status == kError
};

// Takes one typed message from the front of `input`. Lengths are checked before any body is
// awaited: 4 <= length and body <= max_body_bytes, otherwise kError.
FrameResult next_frame(std::string_view input, size_t max_body_bytes);

// Takes one untyped startup-family packet (StartupMessage, SSLRequest, GSSENCRequest,
// CancelRequest), whose total length must lie in [8, max_packet_bytes].
FrameResult next_startup_frame(std::string_view input, size_t max_packet_bytes = kMaxStartupPacket);

// Follows message boundaries across arbitrary chunks of a relayed stream without holding
// message bodies, except the bodies of the message types the caller asks to capture (which are
// then bounded by max_body_bytes like every other message). Used on the hot relay path.
class FrameScanner {
 public:
  // `capture` lists the type bytes whose bodies are delivered whole to the callback.
  FrameScanner(std::string_view capture, size_t max_body_bytes)
      : capture_(capture), max_body_(max_body_bytes) {}

  // Calls on_message(char type, std::string_view body) once per message that ends within this
  // chunk; `body` is the full body for captured types and empty for the others. A callback
  // taking a third argument (size_t) also gets the offset in `chunk` where the message ends.
  // Returns the first framing error; after an error the scanner must not be fed again.
  template <typename OnMessage>
  ProtocolError feed(std::string_view chunk, OnMessage&& on_message);

  // Changes the captured types for messages that start from now on.
  void set_capture(std::string_view capture) { capture_.assign(capture); }

  // True when the bytes fed so far end exactly at a message boundary.
  bool at_boundary() const { return header_len_ == 0 && body_left_ == 0; }

 private:
  ProtocolError start_message();

  std::string capture_;
  size_t max_body_;
  char header_[kHeaderSize] = {};
  size_t header_len_ = 0;  // header bytes gathered so far
  size_t body_left_ = 0;   // body bytes of the current message still to come
  bool capturing_ = false;
  std::string body_;  // captured body under construction
};

template <typename OnMessage>
ProtocolError FrameScanner::feed(std::string_view chunk, OnMessage&& on_message) {
  const size_t chunk_size = chunk.size();
  while (!chunk.empty()) {
    if (body_left_ == 0) {
      size_t take = std::min(kHeaderSize - header_len_, chunk.size());
      chunk.copy(&header_[header_len_], take);
      header_len_ += take;
      chunk.remove_prefix(take);
      if (header_len_ < kHeaderSize) break;
      if (ProtocolError e = start_message(); e != ProtocolError{}) return e;
      if (body_left_ > 0) continue;
    } else {
      size_t take = std::min(body_left_, chunk.size());
      if (capturing_) body_.append(chunk.data(), take);
      body_left_ -= take;
      chunk.remove_prefix(take);
      if (body_left_ > 0) break;
    }
    header_len_ = 0;
    std::string_view body = capturing_ ? std::string_view(body_) : std::string_view{};
    if constexpr (std::is_invocable_v<OnMessage&, char, std::string_view, size_t>) {
      on_message(header_[0], body, chunk_size - chunk.size());
    } else {
      on_message(header_[0], body);
    }
  }
  return ProtocolError{};
}

}  // namespace cutover::protocol
