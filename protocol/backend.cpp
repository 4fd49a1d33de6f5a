#include "protocol/backend.h"

#include <algorithm>
#include <utility>

#include "protocol/byte_reader.h"
#include "protocol/message_writer.h"
#include "protocol/wire_fields.h"

namespace cutover::protocol {
namespace {

// Authentication request codes carried in the first word of an 'R' message.
enum AuthCode : int32_t {
  kAuthOk = 0,
  kAuthKerberosV5 = 2,
  kAuthCleartextPassword = 3,
  kAuthMD5Password = 5,
  kAuthGSS = 7,
  kAuthGSSContinue = 8,
  kAuthSSPI = 9,
  kAuthSASL = 10,
  kAuthSASLContinue = 11,
  kAuthSASLFinal = 12,
};

// Decoders read without checking in between (the reader is sticky) and report the first
// failure, or trailing bytes, here.
template <typename T>
Result<BackendMessage> finish(const ByteReader& r, T&& m) {
  if (auto ec = r.finish()) return ec;
  return BackendMessage(std::forward<T>(m));
}

Result<BackendMessage> decode_authentication(ByteReader& r) {
  int32_t code = r.i32();
  if (!r.ok()) return make_error_code(r.error());
  switch (code) {
    case kAuthOk:
      return finish(r, AuthenticationOk{});
    case kAuthKerberosV5:
      return finish(r, AuthenticationKerberosV5{});
    case kAuthCleartextPassword:
      return finish(r, AuthenticationCleartextPassword{});
    case kAuthMD5Password: {
      AuthenticationMD5Password m;
      std::string_view salt = r.bytes(m.salt.size());
      std::copy(salt.begin(), salt.end(), m.salt.begin());
      return finish(r, m);
    }
    case kAuthGSS:
      return finish(r, AuthenticationGSS{});
    case kAuthGSSContinue:
      return finish(r, AuthenticationGSSContinue{std::string(r.rest())});
    case kAuthSSPI:
      return finish(r, AuthenticationSSPI{});
    case kAuthSASL: {
      // Mechanism names, then an empty name as the list terminator.
      AuthenticationSASL m;
      while (true) {
        std::string_view name = r.cstring();
        if (!r.ok() || name.empty()) break;
        m.mechanisms.emplace_back(name);
      }
      if (r.ok() && m.mechanisms.empty()) return make_error_code(ProtocolError::kBadValue);
      return finish(r, std::move(m));
    }
    case kAuthSASLContinue:
      return finish(r, AuthenticationSASLContinue{std::string(r.rest())});
    case kAuthSASLFinal:
      return finish(r, AuthenticationSASLFinal{std::string(r.rest())});
    default:
      // Includes 6 (SCMCredential): no server since 9.1 sends it.
      return make_error_code(ProtocolError::kUnknownMessageType);
  }
}

Result<BackendMessage> decode_copy_response(char type, ByteReader& r) {
  CopyResponse m;
  m.type = type;
  m.format = static_cast<int8_t>(r.u8());
  m.column_formats = wire::read_i16_array(r);
  return finish(r, std::move(m));
}

Result<BackendMessage> decode_data_row(ByteReader& r) {
  DataRow m;
  size_t n = wire::read_count16(r, 4);
  m.columns.reserve(n);
  for (size_t i = 0; i < n; ++i) m.columns.push_back(wire::read_nullable(r));
  return finish(r, std::move(m));
}

// ErrorResponse and NoticeResponse: (code byte, C string) pairs ended by a zero code byte.
Result<BackendMessage> decode_error_fields(char type, ByteReader& r) {
  ErrorFields m;
  m.type = type;
  while (true) {
    uint8_t code = r.u8();
    if (!r.ok() || code == 0) break;
    std::string_view value = r.cstring();
    if (!r.ok()) break;
    m.fields.emplace_back(static_cast<char>(code), value);
  }
  return finish(r, std::move(m));
}

Result<BackendMessage> decode_negotiate_protocol_version(ByteReader& r) {
  NegotiateProtocolVersion m;
  m.newest_minor = r.i32();
  size_t n = r.count(r.i32(), 1);  // each option name is at least its terminator
  m.unrecognized_options.reserve(n);
  for (size_t i = 0; i < n; ++i) m.unrecognized_options.emplace_back(r.cstring());
  return finish(r, std::move(m));
}

Result<BackendMessage> decode_row_description(ByteReader& r) {
  // name terminator + table oid + column + type oid + size + modifier + format
  constexpr size_t kMinFieldBytes = 1 + 4 + 2 + 4 + 2 + 4 + 2;
  RowDescription m;
  size_t n = wire::read_count16(r, kMinFieldBytes);
  m.fields.reserve(n);
  for (size_t i = 0; i < n; ++i) {
    FieldDescription f;
    f.name = r.cstring();
    f.table_oid = r.i32();
    f.column = r.i16();
    f.type_oid = r.i32();
    f.type_size = r.i16();
    f.type_modifier = r.i32();
    f.format = r.i16();
    m.fields.push_back(std::move(f));
  }
  return finish(r, std::move(m));
}

Result<BackendMessage> decode_ready_for_query(ByteReader& r) {
  ReadyForQuery m;
  m.status = static_cast<char>(r.u8());
  if (r.ok() && m.status != 'I' && m.status != 'T' && m.status != 'E') {
    r.fail(ProtocolError::kBadValue);
  }
  return finish(r, m);
}

Result<BackendMessage> decode_body(char type, ByteReader& r) {
  switch (type) {
    case 'R':
      return decode_authentication(r);
    case 'K': {
      BackendKeyData m;
      m.process_id = r.i32();
      m.secret_key = r.i32();
      return finish(r, m);
    }
    case '2':
      return finish(r, BindComplete{});
    case '3':
      return finish(r, CloseComplete{});
    case 'C':
      return finish(r, CommandComplete{std::string(r.cstring())});
    case 'd':
      return finish(r, CopyData{std::string(r.rest())});
    case 'c':
      return finish(r, CopyDone{});
    case 'G':
    case 'H':
    case 'W':
      return decode_copy_response(type, r);
    case 'D':
      return decode_data_row(r);
    case 'I':
      return finish(r, EmptyQueryResponse{});
    case 'E':
    case 'N':
      return decode_error_fields(type, r);
    case 'V':
      return finish(r, FunctionCallResponse{wire::read_nullable(r)});
    case 'v':
      return decode_negotiate_protocol_version(r);
    case 'n':
      return finish(r, NoData{});
    case 'A': {
      NotificationResponse m;
      m.process_id = r.i32();
      m.channel = r.cstring();
      m.payload = r.cstring();
      return finish(r, std::move(m));
    }
    case 't': {
      ParameterDescription m;
      size_t n = wire::read_count16(r, 4);
      m.types.reserve(n);
      for (size_t i = 0; i < n; ++i) m.types.push_back(r.i32());
      return finish(r, std::move(m));
    }
    case 'S': {
      ParameterStatus m;
      m.name = r.cstring();
      m.value = r.cstring();
      return finish(r, std::move(m));
    }
    case '1':
      return finish(r, ParseComplete{});
    case 's':
      return finish(r, PortalSuspended{});
    case 'Z':
      return decode_ready_for_query(r);
    case 'T':
      return decode_row_description(r);
    default:
      return make_error_code(ProtocolError::kUnknownMessageType);
  }
}

// One writer per alternative; the BackendMessage overload below dispatches to them.
void write_auth(std::string& out, int32_t code, std::string_view payload = {}) {
  MessageWriter w(out, 'R');
  w.i32(code).bytes(payload);
  w.finish();
}

void encode_one(const AuthenticationOk&, std::string& out) { write_auth(out, kAuthOk); }
void encode_one(const AuthenticationKerberosV5&, std::string& out) {
  write_auth(out, kAuthKerberosV5);
}
void encode_one(const AuthenticationCleartextPassword&, std::string& out) {
  write_auth(out, kAuthCleartextPassword);
}
void encode_one(const AuthenticationMD5Password& m, std::string& out) {
  write_auth(out, kAuthMD5Password, std::string_view(m.salt.data(), m.salt.size()));
}
void encode_one(const AuthenticationGSS&, std::string& out) { write_auth(out, kAuthGSS); }
void encode_one(const AuthenticationGSSContinue& m, std::string& out) {
  write_auth(out, kAuthGSSContinue, m.data);
}
void encode_one(const AuthenticationSSPI&, std::string& out) { write_auth(out, kAuthSSPI); }
void encode_one(const AuthenticationSASL& m, std::string& out) {
  MessageWriter w(out, 'R');
  w.i32(kAuthSASL);
  for (const auto& name : m.mechanisms) w.cstring(name);
  w.u8(0);
  w.finish();
}
void encode_one(const AuthenticationSASLContinue& m, std::string& out) {
  write_auth(out, kAuthSASLContinue, m.data);
}
void encode_one(const AuthenticationSASLFinal& m, std::string& out) {
  write_auth(out, kAuthSASLFinal, m.data);
}

void encode_one(const BackendKeyData& m, std::string& out) {
  MessageWriter w(out, 'K');
  w.i32(m.process_id).i32(m.secret_key);
  w.finish();
}
void encode_one(const BindComplete&, std::string& out) { MessageWriter(out, '2').finish(); }
void encode_one(const CloseComplete&, std::string& out) { MessageWriter(out, '3').finish(); }
void encode_one(const CommandComplete& m, std::string& out) {
  MessageWriter w(out, 'C');
  w.cstring(m.tag);
  w.finish();
}
void encode_one(const CopyData& m, std::string& out) { encode(m, out); }
void encode_one(const CopyDone& m, std::string& out) { encode(m, out); }
void encode_one(const CopyResponse& m, std::string& out) {
  MessageWriter w(out, m.type);
  w.u8(static_cast<uint8_t>(m.format));
  wire::write_i16_array(w, m.column_formats);
  w.finish();
}
void encode_one(const DataRow& m, std::string& out) {
  MessageWriter w(out, 'D');
  w.i16(static_cast<int16_t>(m.columns.size()));
  for (const auto& c : m.columns) wire::write_nullable(w, c);
  w.finish();
}
void encode_one(const EmptyQueryResponse&, std::string& out) { MessageWriter(out, 'I').finish(); }
void encode_one(const ErrorFields& m, std::string& out) {
  MessageWriter w(out, m.type);
  for (const auto& [code, value] : m.fields) w.u8(static_cast<uint8_t>(code)).cstring(value);
  w.u8(0);
  w.finish();
}
void encode_one(const FunctionCallResponse& m, std::string& out) {
  MessageWriter w(out, 'V');
  wire::write_nullable(w, m.result);
  w.finish();
}
void encode_one(const NegotiateProtocolVersion& m, std::string& out) {
  MessageWriter w(out, 'v');
  w.i32(m.newest_minor).i32(static_cast<int32_t>(m.unrecognized_options.size()));
  for (const auto& name : m.unrecognized_options) w.cstring(name);
  w.finish();
}
void encode_one(const NoData&, std::string& out) { MessageWriter(out, 'n').finish(); }
void encode_one(const NotificationResponse& m, std::string& out) {
  MessageWriter w(out, 'A');
  w.i32(m.process_id).cstring(m.channel).cstring(m.payload);
  w.finish();
}
void encode_one(const ParameterDescription& m, std::string& out) {
  MessageWriter w(out, 't');
  w.i16(static_cast<int16_t>(m.types.size()));
  for (int32_t oid : m.types) w.i32(oid);
  w.finish();
}
void encode_one(const ParameterStatus& m, std::string& out) {
  MessageWriter w(out, 'S');
  w.cstring(m.name).cstring(m.value);
  w.finish();
}
void encode_one(const ParseComplete&, std::string& out) { MessageWriter(out, '1').finish(); }
void encode_one(const PortalSuspended&, std::string& out) { MessageWriter(out, 's').finish(); }
void encode_one(const ReadyForQuery& m, std::string& out) {
  MessageWriter w(out, 'Z');
  w.u8(static_cast<uint8_t>(m.status));
  w.finish();
}
void encode_one(const RowDescription& m, std::string& out) {
  MessageWriter w(out, 'T');
  w.i16(static_cast<int16_t>(m.fields.size()));
  for (const auto& f : m.fields) {
    w.cstring(f.name).i32(f.table_oid).i16(f.column).i32(f.type_oid);
    w.i16(f.type_size).i32(f.type_modifier).i16(f.format);
  }
  w.finish();
}

}  // namespace

std::optional<std::string_view> ErrorFields::get(char code) const {
  for (const auto& [c, v] : fields) {
    if (c == code) return std::string_view(v);
  }
  return std::nullopt;
}

Result<BackendMessage> decode_backend(char type, std::string_view body) {
  ByteReader r(body);
  return decode_body(type, r);
}

void encode(const BackendMessage& m, std::string& out) {
  std::visit([&out](const auto& alternative) { encode_one(alternative, out); }, m);
}

void encode_error(std::string& out, std::string_view severity, std::string_view sqlstate,
                  std::string_view message, char type) {
  // S is localized in principle, V never is (protocol 3.0, PostgreSQL 9.6+); the proxy speaks
  // English, so both carry the same word.
  MessageWriter w(out, type);
  w.u8('S').cstring(severity);
  w.u8('V').cstring(severity);
  w.u8('C').cstring(sqlstate);
  w.u8('M').cstring(message);
  w.u8(0);
  w.finish();
}

// Both messages count their columns in 16 bits, then list them: a RowDescription each as its
// name (NUL-terminated) and 18 bytes, a DataRow each as a 32-bit length (-1: NULL) and as many
// bytes.
std::optional<size_t> last_column_at(char type, std::string_view body) {
  auto read16 = [&](size_t at) {
    return static_cast<uint16_t>((static_cast<uint8_t>(body[at]) << 8) |
                                 static_cast<uint8_t>(body[at + 1]));
  };
  const size_t count = body.size() >= 2 ? read16(0) : 0;
  size_t at = 2;
  size_t last = at;
  for (size_t column = 0; column < count && at <= body.size(); ++column) {
    last = at;
    if (type == 'T') {
      const size_t nul = body.find('\0', at);
      at = nul == std::string_view::npos ? body.size() + 1 : nul + 1 + 18;
    } else if (at + 4 <= body.size()) {
      const auto length = static_cast<int32_t>((read16(at) << 16) | read16(at + 2));
      at += 4 + static_cast<size_t>(std::max(length, 0));
    } else {
      at = body.size() + 1;
    }
  }
  if (count == 0 || at != body.size()) return std::nullopt;
  return last;
}

std::string without_last_column(std::string_view body, size_t last) {
  const auto count =
      static_cast<uint16_t>((static_cast<uint8_t>(body[0]) << 8) | static_cast<uint8_t>(body[1]));
  std::string out;
  out.push_back(static_cast<char>((count - 1) >> 8));
  out.push_back(static_cast<char>((count - 1) & 0xff));
  out.append(body.substr(2, last - 2));
  return out;
}

}  // namespace cutover::protocol
