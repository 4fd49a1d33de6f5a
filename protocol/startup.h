// The untyped startup family: StartupMessage, SSLRequest, GSSENCRequest, CancelRequest.
// Not for framing (next_startup_frame in framing.h hands us the body).
//
// Protocol docs: "Message Formats" — StartupMessage, SSLRequest, GSSENCRequest, CancelRequest.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "protocol/error.h"

namespace cutover::protocol {

inline constexpr int32_t kProtocolV3 = 196608;  // 3.0
inline constexpr int32_t kCancelRequestCode = 80877102;
inline constexpr int32_t kSSLRequestCode = 80877103;
inline constexpr int32_t kGSSENCRequestCode = 80877104;

struct StartupMessage {
  int32_t protocol_version = kProtocolV3;  // major 3, any minor
  // In wire order. PostgreSQL accepts a name twice and the later value wins, so do we.
  std::vector<std::pair<std::string, std::string>> parameters;

  // The value of a parameter ("user", "database", ...), if present; the last one if repeated.
  std::optional<std::string_view> get(std::string_view name) const;
  friend bool operator==(const StartupMessage&, const StartupMessage&) = default;
};
struct SSLRequest {
  friend bool operator==(const SSLRequest&, const SSLRequest&) = default;
};
struct GSSENCRequest {
  friend bool operator==(const GSSENCRequest&, const GSSENCRequest&) = default;
};
struct CancelRequest {
  int32_t process_id = 0;
  int32_t secret_key = 0;
  friend bool operator==(const CancelRequest&, const CancelRequest&) = default;
};

using StartupPacket = std::variant<StartupMessage, SSLRequest, GSSENCRequest, CancelRequest>;

// Decodes the body of a startup-family packet (the bytes after its length word). A
// StartupMessage must have major version 3, a "user" parameter, name/value pairs with
// non-empty names, and end with the list terminator; anything else is an error.
Result<StartupPacket> decode_startup_packet(std::string_view body);

// Each appends one whole packet, length word included.
void encode(const StartupMessage& m, std::string& out);
void encode(const SSLRequest& m, std::string& out);
void encode(const GSSENCRequest& m, std::string& out);
void encode(const CancelRequest& m, std::string& out);

}  // namespace cutover::protocol
