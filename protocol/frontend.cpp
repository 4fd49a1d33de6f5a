#include "protocol/frontend.h"

#include <utility>

#include "protocol/byte_reader.h"
#include "protocol/message_writer.h"
#include "protocol/wire_fields.h"

namespace cutover::protocol {
namespace {

// Every decoder reads its fields without checking in between (the reader is sticky), then
// reports the first failure or trailing bytes here.
template <typename Out, typename T>
Result<Out> finish(const ByteReader& r, T&& m) {
  if (auto ec = r.finish()) return ec;
  return Out(std::forward<T>(m));
}

// 'S' statement or 'P' portal, as in Describe and Close.
char read_kind(ByteReader& r) {
  char kind = static_cast<char>(r.u8());
  if (r.ok() && kind != 'S' && kind != 'P') r.fail(ProtocolError::kBadValue);
  return kind;
}

Result<FrontendMessage> decode_parse(ByteReader& r) {
  Parse m;
  m.statement = r.cstring();
  m.query = r.cstring();
  size_t n = wire::read_count16(r, 4);
  m.parameter_types.reserve(n);
  for (size_t i = 0; i < n; ++i) m.parameter_types.push_back(r.i32());
  return finish<FrontendMessage>(r, std::move(m));
}

Result<FrontendMessage> decode_bind(ByteReader& r) {
  Bind m;
  m.portal = r.cstring();
  m.statement = r.cstring();
  m.parameter_formats = wire::read_i16_array(r);
  size_t n = wire::read_count16(r, 4);
  m.parameters.reserve(n);
  for (size_t i = 0; i < n; ++i) m.parameters.push_back(wire::read_nullable(r));
  m.result_formats = wire::read_i16_array(r);
  return finish<FrontendMessage>(r, std::move(m));
}

Result<FrontendMessage> decode_function_call(ByteReader& r) {
  FunctionCall m;
  m.function_oid = r.i32();
  m.argument_formats = wire::read_i16_array(r);
  size_t n = wire::read_count16(r, 4);
  m.arguments.reserve(n);
  for (size_t i = 0; i < n; ++i) m.arguments.push_back(wire::read_nullable(r));
  m.result_format = r.i16();
  return finish<FrontendMessage>(r, std::move(m));
}

Result<FrontendMessage> decode_body(char type, ByteReader& r) {
  switch (type) {
    case 'Q':
      return finish<FrontendMessage>(r, Query{std::string(r.cstring())});
    case 'P':
      return decode_parse(r);
    case 'B':
      return decode_bind(r);
    case 'D': {
      Describe m;
      m.kind = read_kind(r);
      m.name = r.cstring();
      return finish<FrontendMessage>(r, std::move(m));
    }
    case 'E': {
      Execute m;
      m.portal = r.cstring();
      m.max_rows = r.i32();
      return finish<FrontendMessage>(r, std::move(m));
    }
    case 'S':
      return finish<FrontendMessage>(r, Sync{});
    case 'H':
      return finish<FrontendMessage>(r, Flush{});
    case 'C': {
      Close m;
      m.kind = read_kind(r);
      m.name = r.cstring();
      return finish<FrontendMessage>(r, std::move(m));
    }
    case 'd':
      return finish<FrontendMessage>(r, CopyData{std::string(r.rest())});
    case 'c':
      return finish<FrontendMessage>(r, CopyDone{});
    case 'f':
      return finish<FrontendMessage>(r, CopyFail{std::string(r.cstring())});
    case 'F':
      return decode_function_call(r);
    case 'X':
      return finish<FrontendMessage>(r, Terminate{});
    case 'p':
      return finish<FrontendMessage>(r, AuthenticationResponse{std::string(r.rest())});
    default:
      return make_error_code(ProtocolError::kUnknownMessageType);
  }
}

}  // namespace

Result<FrontendMessage> decode_frontend(char type, std::string_view body) {
  ByteReader r(body);
  return decode_body(type, r);
}

Result<PasswordMessage> decode_password_message(std::string_view body) {
  ByteReader r(body);
  return finish<PasswordMessage>(r, PasswordMessage{std::string(r.cstring())});
}

Result<SASLInitialResponse> decode_sasl_initial_response(std::string_view body) {
  ByteReader r(body);
  SASLInitialResponse m;
  m.mechanism = r.cstring();
  m.data = wire::read_nullable(r);
  return finish<SASLInitialResponse>(r, std::move(m));
}

Result<SASLResponse> decode_sasl_response(std::string_view body) {
  ByteReader r(body);
  return finish<SASLResponse>(r, SASLResponse{std::string(r.rest())});
}

void encode(const Query& m, std::string& out) {
  MessageWriter w(out, 'Q');
  w.cstring(m.sql);
  w.finish();
}

void encode(const Parse& m, std::string& out) {
  MessageWriter w(out, 'P');
  w.cstring(m.statement).cstring(m.query);
  w.i16(static_cast<int16_t>(m.parameter_types.size()));
  for (int32_t oid : m.parameter_types) w.i32(oid);
  w.finish();
}

void encode(const Bind& m, std::string& out) {
  MessageWriter w(out, 'B');
  w.cstring(m.portal).cstring(m.statement);
  wire::write_i16_array(w, m.parameter_formats);
  w.i16(static_cast<int16_t>(m.parameters.size()));
  for (const auto& p : m.parameters) wire::write_nullable(w, p);
  wire::write_i16_array(w, m.result_formats);
  w.finish();
}

void encode(const Describe& m, std::string& out) {
  MessageWriter w(out, 'D');
  w.u8(static_cast<uint8_t>(m.kind)).cstring(m.name);
  w.finish();
}

void encode(const Execute& m, std::string& out) {
  MessageWriter w(out, 'E');
  w.cstring(m.portal).i32(m.max_rows);
  w.finish();
}

void encode(const Sync&, std::string& out) { MessageWriter(out, 'S').finish(); }

void encode(const Flush&, std::string& out) { MessageWriter(out, 'H').finish(); }

void encode(const Close& m, std::string& out) {
  MessageWriter w(out, 'C');
  w.u8(static_cast<uint8_t>(m.kind)).cstring(m.name);
  w.finish();
}

void encode(const CopyData& m, std::string& out) {
  MessageWriter w(out, 'd');
  w.bytes(m.data);
  w.finish();
}

void encode(const CopyDone&, std::string& out) { MessageWriter(out, 'c').finish(); }

void encode(const CopyFail& m, std::string& out) {
  MessageWriter w(out, 'f');
  w.cstring(m.message);
  w.finish();
}

void encode(const FunctionCall& m, std::string& out) {
  MessageWriter w(out, 'F');
  w.i32(m.function_oid);
  wire::write_i16_array(w, m.argument_formats);
  w.i16(static_cast<int16_t>(m.arguments.size()));
  for (const auto& a : m.arguments) wire::write_nullable(w, a);
  w.i16(m.result_format);
  w.finish();
}

void encode(const Terminate&, std::string& out) { MessageWriter(out, 'X').finish(); }

void encode(const AuthenticationResponse& m, std::string& out) {
  MessageWriter w(out, 'p');
  w.bytes(m.data);
  w.finish();
}

void encode(const PasswordMessage& m, std::string& out) {
  MessageWriter w(out, 'p');
  w.cstring(m.password);
  w.finish();
}

void encode(const SASLInitialResponse& m, std::string& out) {
  MessageWriter w(out, 'p');
  w.cstring(m.mechanism);
  wire::write_nullable(w, m.data);
  w.finish();
}

void encode(const SASLResponse& m, std::string& out) {
  MessageWriter w(out, 'p');
  w.bytes(m.data);
  w.finish();
}

void encode(const FrontendMessage& m, std::string& out) {
  std::visit([&out](const auto& alternative) { encode(alternative, out); }, m);
}

}  // namespace cutover::protocol
