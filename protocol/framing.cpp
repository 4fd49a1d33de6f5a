#include "protocol/framing.h"

namespace cutover::protocol {
namespace {

// The big-endian length word at `offset`; the caller has checked that four bytes are there.
uint32_t read_u32(std::string_view bytes, size_t offset) {
  auto b = [&](size_t i) { return uint32_t{static_cast<uint8_t>(bytes[offset + i])}; };
  return (b(0) << 24) | (b(1) << 16) | (b(2) << 8) | b(3);
}

FrameResult error(ProtocolError e) {
  FrameResult r;
  r.status = FrameStatus::kError;
  r.error = e;
  return r;
}

}  // namespace

FrameResult next_frame(std::string_view input, size_t max_body_bytes) {
  if (input.size() < kHeaderSize) return {};
  uint32_t length = read_u32(input, 1);
  if (length < 4) return error(ProtocolError::kLengthTooSmall);
  if (length - 4 > max_body_bytes) return error(ProtocolError::kMessageTooLarge);
  size_t total = size_t{length} + 1;
  if (input.size() < total) return {};
  FrameResult r;
  r.status = FrameStatus::kFrame;
  r.type = input[0];
  r.body = input.substr(kHeaderSize, length - 4);
  r.consumed = total;
  return r;
}

FrameResult next_startup_frame(std::string_view input, size_t max_packet_bytes) {
  if (input.size() < 4) return {};
  uint32_t length = read_u32(input, 0);
  if (length < 8) return error(ProtocolError::kLengthTooSmall);
  if (length > max_packet_bytes) return error(ProtocolError::kMessageTooLarge);
  if (input.size() < length) return {};
  FrameResult r;
  r.status = FrameStatus::kFrame;
  r.body = input.substr(4, length - 4);
  r.consumed = length;
  return r;
}

ProtocolError FrameScanner::start_message() {
  uint32_t length = read_u32(std::string_view(header_, kHeaderSize), 1);
  if (length < 4) return ProtocolError::kLengthTooSmall;
  if (length - 4 > max_body_) return ProtocolError::kMessageTooLarge;
  body_left_ = length - 4;
  capturing_ = capture_.find(header_[0]) != std::string::npos;
  if (capturing_) body_.clear();
  return ProtocolError{};
}

}  // namespace cutover::protocol
