// A bounds-checked cursor over one message body, in network byte order.
// Not a framer: it never looks past the body it was given (see framing.h).
#pragma once

#include <cassert>
#include <cstdint>
#include <cstring>
#include <string_view>

#include "protocol/error.h"

namespace cutover::protocol {

// Reads fields front to back. The first failed read makes the reader sticky-failed: every later
// read returns a zero value and error() tells why, so decoders check once at the end.
class ByteReader {
 public:
  explicit ByteReader(std::string_view data) : data_(data) {}

  uint8_t u8() {
    if (!need(1)) return 0;
    return static_cast<uint8_t>(data_[pos_++]);
  }
  int16_t i16() {
    if (!need(2)) return 0;
    uint16_t v = static_cast<uint16_t>((byte(0) << 8) | byte(1));
    pos_ += 2;
    return static_cast<int16_t>(v);
  }
  int32_t i32() {
    if (!need(4)) return 0;
    uint32_t v = (uint32_t{byte(0)} << 24) | (uint32_t{byte(1)} << 16) | (uint32_t{byte(2)} << 8) |
                 uint32_t{byte(3)};
    pos_ += 4;
    return static_cast<int32_t>(v);
  }
  // A NUL-terminated string; the terminator must lie inside the body.
  std::string_view cstring() {
    if (!ok()) return {};
    const void* nul = std::memchr(data_.data() + pos_, '\0', data_.size() - pos_);
    if (nul == nullptr) return fail(ProtocolError::kMissingTerminator), std::string_view{};
    size_t len = static_cast<const char*>(nul) - (data_.data() + pos_);
    std::string_view s = data_.substr(pos_, len);
    pos_ += len + 1;
    return s;
  }
  // Exactly n bytes; n comes from the peer, so it is checked against what is left.
  std::string_view bytes(size_t n) {
    if (!need(n)) return {};
    std::string_view s = data_.substr(pos_, n);
    pos_ += n;
    return s;
  }
  // A count read from the wire that announces `count` items of at least `min_item_bytes` each.
  // Fails unless 0 <= count and the items could fit in what is left, so callers may reserve.
  size_t count(int32_t count, size_t min_item_bytes) {
    assert(min_item_bytes > 0 && "a zero item size would let any count through");
    if (count < 0 || static_cast<size_t>(count) * min_item_bytes > remaining()) {
      fail(ProtocolError::kBadCount);
      return 0;
    }
    return static_cast<size_t>(count);
  }
  std::string_view rest() {
    std::string_view s = ok() ? data_.substr(pos_) : std::string_view{};
    pos_ = data_.size();
    return s;
  }

  size_t remaining() const { return ok() ? data_.size() - pos_ : 0; }
  bool ok() const { return error_ == ProtocolError{}; }
  ProtocolError error() const { return error_; }
  void fail(ProtocolError e) {
    if (ok()) error_ = e;
  }
  // The error to report after the last field: a sticky failure, or trailing bytes.
  boost::system::error_code finish() const {
    if (!ok()) return make_error_code(error_);
    if (pos_ != data_.size()) return make_error_code(ProtocolError::kTrailingBytes);
    return {};
  }

 private:
  bool need(size_t n) {
    if (!ok()) return false;
    if (data_.size() - pos_ < n) {
      fail(ProtocolError::kTruncated);
      return false;
    }
    return true;
  }
  uint8_t byte(size_t i) const { return static_cast<uint8_t>(data_[pos_ + i]); }

  std::string_view data_;
  size_t pos_ = 0;
  ProtocolError error_{};
};

}  // namespace cutover::protocol
