// Field shapes shared by the frontend and backend codecs: Int16-counted arrays and
// Int32-length values where -1 means NULL. Internal to protocol/; not part of its interface.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "protocol/byte_reader.h"
#include "protocol/message_writer.h"

namespace cutover::protocol::wire {

// Int16 counts are unsigned on the wire: PostgreSQL reads them with pq_getmsgint(msg, 2) and
// libpq sends up to 65535 Bind parameters, which a signed read would refuse as negative.
inline size_t read_count16(ByteReader& r, size_t min_item_bytes) {
  return r.count(static_cast<uint16_t>(r.i16()), min_item_bytes);
}

inline std::vector<int16_t> read_i16_array(ByteReader& r) {
  size_t n = read_count16(r, 2);
  std::vector<int16_t> v;
  v.reserve(n);
  for (size_t i = 0; i < n; ++i) v.push_back(r.i16());
  return v;
}

// An Int32 length and that many bytes; -1 is NULL and any other negative length is an error.
// Only for fields the protocol lets be NULL (Bind parameters, DataRow columns, function
// arguments and results, SASLInitialResponse data).
inline std::optional<std::string> read_nullable(ByteReader& r) {
  int32_t len = r.i32();
  if (len == -1) return std::nullopt;
  return std::string(r.bytes(r.count(len, 1)));
}

inline void write_i16_array(MessageWriter& w, const std::vector<int16_t>& v) {
  w.i16(static_cast<int16_t>(v.size()));
  for (int16_t x : v) w.i16(x);
}

inline void write_nullable(MessageWriter& w, const std::optional<std::string>& v) {
  if (!v) {
    w.i32(-1);
    return;
  }
  w.i32(static_cast<int32_t>(v->size())).bytes(*v);
}

}  // namespace cutover::protocol::wire
