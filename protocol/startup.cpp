#include "protocol/startup.h"

#include <algorithm>

#include "protocol/byte_reader.h"
#include "protocol/message_writer.h"

namespace cutover::protocol {
namespace {

boost::system::error_code error(ProtocolError e) { return make_error_code(e); }

// StartupMessage body after the version word: name/value C-string pairs ended by one zero byte.
// PostgreSQL itself also insists the terminator be the last byte of the packet.
Result<StartupPacket> decode_startup_message(int32_t version, ByteReader& r) {
  StartupMessage m;
  m.protocol_version = version;
  while (true) {
    std::string_view name = r.cstring();
    if (!r.ok() || name.empty()) break;  // an empty name is the list terminator
    std::string_view value = r.cstring();
    if (!r.ok()) break;
    m.parameters.emplace_back(name, value);
  }
  if (auto ec = r.finish()) return ec;
  if (!m.get("user")) return error(ProtocolError::kBadValue);
  return StartupPacket(std::move(m));
}

}  // namespace

std::optional<std::string_view> StartupMessage::get(std::string_view name) const {
  for (auto it = parameters.rbegin(); it != parameters.rend(); ++it) {
    if (it->first == name) return std::string_view(it->second);
  }
  return std::nullopt;
}

Result<StartupPacket> decode_startup_packet(std::string_view body) {
  ByteReader r(body);
  int32_t code = r.i32();
  if (!r.ok()) return error(r.error());

  // The request codes live in the 1234.x space, so they are told apart before the version check.
  switch (code) {
    case kSSLRequestCode:
      if (auto ec = r.finish()) return ec;
      return StartupPacket(SSLRequest{});
    case kGSSENCRequestCode:
      if (auto ec = r.finish()) return ec;
      return StartupPacket(GSSENCRequest{});
    case kCancelRequestCode: {
      CancelRequest m;
      m.process_id = r.i32();
      m.secret_key = r.i32();
      if (auto ec = r.finish()) return ec;
      return StartupPacket(m);
    }
    default:
      break;
  }
  // Major version in the high 16 bits; any 3.x minor is accepted (NegotiateProtocolVersion is
  // the server's business).
  if ((static_cast<uint32_t>(code) >> 16) != 3) return error(ProtocolError::kUnsupportedProtocol);
  return decode_startup_message(code, r);
}

void encode(const StartupMessage& m, std::string& out) {
  MessageWriter w(out, '\0');
  w.i32(m.protocol_version);
  for (const auto& [name, value] : m.parameters) w.cstring(name).cstring(value);
  w.u8(0);
  w.finish();
}

void encode(const SSLRequest&, std::string& out) {
  MessageWriter w(out, '\0');
  w.i32(kSSLRequestCode);
  w.finish();
}

void encode(const GSSENCRequest&, std::string& out) {
  MessageWriter w(out, '\0');
  w.i32(kGSSENCRequestCode);
  w.finish();
}

void encode(const CancelRequest& m, std::string& out) {
  MessageWriter w(out, '\0');
  w.i32(kCancelRequestCode).i32(m.process_id).i32(m.secret_key);
  w.finish();
}

}  // namespace cutover::protocol
