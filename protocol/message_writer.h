// Appends one wire message (type byte, length word, fields) to a byte string.
// Not a validator: callers pass values the protocol allows.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace cutover::protocol {

// Writes the header on construction and fixes up the length word in finish().
// A type of '\0' writes an untyped startup-family packet (length word only).
class MessageWriter {
 public:
  MessageWriter(std::string& out, char type) : out_(out), start_(out.size()) {
    if (type != '\0') {
      out_.push_back(type);
      ++start_;
    }
    i32(0);  // placeholder for the length word
  }
  MessageWriter& u8(uint8_t v) {
    out_.push_back(static_cast<char>(v));
    return *this;
  }
  MessageWriter& i16(int16_t v) {
    auto u = static_cast<uint16_t>(v);
    out_.push_back(static_cast<char>(u >> 8));
    out_.push_back(static_cast<char>(u & 0xff));
    return *this;
  }
  MessageWriter& i32(int32_t v) {
    auto u = static_cast<uint32_t>(v);
    for (int shift = 24; shift >= 0; shift -= 8) out_.push_back(static_cast<char>(u >> shift));
    return *this;
  }
  MessageWriter& cstring(std::string_view s) {
    out_.append(s);
    out_.push_back('\0');
    return *this;
  }
  MessageWriter& bytes(std::string_view s) {
    out_.append(s);
    return *this;
  }
  void finish() {
    auto len = static_cast<uint32_t>(out_.size() - start_);
    for (int i = 0; i < 4; ++i) out_[start_ + i] = static_cast<char>(len >> (24 - 8 * i));
  }

 private:
  std::string& out_;
  size_t start_;  // offset of the length word
};

}  // namespace cutover::protocol
