// Helpers for the protocol tests: hex to bytes, frame building, and splitting a stream into
// typed frames. Not a second codec: frames are built by hand so tests don't trust encode().
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "protocol/error.h"
#include "protocol/framing.h"

namespace cutover::protocol::testing {

inline constexpr size_t kTestMaxBody = 1 << 20;

// "00ff 10" -> "\x00\xff\x10"; whitespace is ignored so captures can be laid out freely.
inline std::string from_hex(std::string_view hex) {
  auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  std::string out;
  int high = -1;
  for (char c : hex) {
    int v = nibble(c);
    if (v < 0) continue;
    if (high < 0) {
      high = v;
    } else {
      out.push_back(static_cast<char>(high << 4 | v));
      high = -1;
    }
  }
  return out;
}

inline std::string be32(uint32_t v) {
  return {static_cast<char>(v >> 24), static_cast<char>(v >> 16), static_cast<char>(v >> 8),
          static_cast<char>(v)};
}

inline std::string be16(uint16_t v) { return {static_cast<char>(v >> 8), static_cast<char>(v)}; }

// A typed message with a correct length word around `body`.
inline std::string frame(char type, std::string_view body) {
  return std::string(1, type) + be32(static_cast<uint32_t>(body.size() + 4)) + std::string(body);
}

// An untyped startup-family packet with a correct length word around `body`.
inline std::string startup_frame(std::string_view body) {
  return be32(static_cast<uint32_t>(body.size() + 4)) + std::string(body);
}

struct Frame {
  char type;
  std::string body;
  friend bool operator==(const Frame&, const Frame&) = default;
};

// Splits a stream that must consist of whole typed frames only.
inline std::vector<Frame> split_frames(std::string_view stream) {
  std::vector<Frame> frames;
  while (!stream.empty()) {
    FrameResult r = next_frame(stream, kTestMaxBody);
    EXPECT_EQ(r.status, FrameStatus::kFrame);
    if (r.status != FrameStatus::kFrame) break;
    frames.push_back({r.type, std::string(r.body)});
    stream.remove_prefix(r.consumed);
  }
  return frames;
}

// Takes the startup packet off the front of a client capture and returns the rest.
inline std::string_view skip_startup(std::string_view stream) {
  FrameResult r = next_startup_frame(stream);
  EXPECT_EQ(r.status, FrameStatus::kFrame);
  return stream.substr(r.consumed);
}

// A C string as it appears on the wire, terminator included.
inline std::string nul(std::string_view s) { return std::string(s) + '\0'; }

inline boost::system::error_code code(ProtocolError e) { return make_error_code(e); }

}  // namespace cutover::protocol::testing
