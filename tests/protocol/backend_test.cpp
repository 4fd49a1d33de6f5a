// Tests for backend message decode/encode: real server captures, round trips of every message
// with its type byte, encode_error, and malformed bodies named after what is wrong with them.
// Not for framing (framing_test.cpp).
#include "protocol/backend.h"

#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

#include "tests/protocol/golden_captures.h"
#include "tests/protocol/wire_test_util.h"

namespace cutover::protocol::testing {
namespace {

std::vector<BackendMessage> decode_all(const std::vector<Frame>& frames) {
  std::vector<BackendMessage> out;
  for (const Frame& f : frames) {
    auto r = decode_backend(f.type, f.body);
    EXPECT_TRUE(r.has_value()) << f.type << ": " << r.error().message();
    if (r.has_value()) out.push_back(std::move(*r));
  }
  return out;
}

std::string encode_all(const std::vector<BackendMessage>& messages) {
  std::string out;
  for (const BackendMessage& m : messages) encode(m, out);
  return out;
}

TEST(BackendCapture, PsqlScramSessionWithNullAndCopyOut) {
  std::string stream = from_hex(kPsqlScramServer);
  std::vector<BackendMessage> got = decode_all(split_frames(stream));
  ASSERT_EQ(got.size(), 29u);

  EXPECT_EQ(std::get<AuthenticationSASL>(got[0]).mechanisms,
            std::vector<std::string>{"SCRAM-SHA-256"});
  EXPECT_EQ(std::get<AuthenticationSASLContinue>(got[1]).data.rfind("r=", 0), 0u);
  EXPECT_EQ(std::get<AuthenticationSASLFinal>(got[2]).data.rfind("v=", 0), 0u);
  EXPECT_TRUE(std::holds_alternative<AuthenticationOk>(got[3]));
  EXPECT_EQ(std::get<ParameterStatus>(got[4]), (ParameterStatus{"application_name", "psql"}));
  EXPECT_EQ(std::get<ParameterStatus>(got[13]).name, "server_version");
  EXPECT_EQ(std::get<BackendKeyData>(got[17]).process_id, 0x107a);
  EXPECT_EQ(std::get<ReadyForQuery>(got[18]).status, 'I');

  const auto& rd = std::get<RowDescription>(got[19]);
  ASSERT_EQ(rd.fields.size(), 2u);
  EXPECT_EQ(rd.fields[0], (FieldDescription{"?column?", 0, 0, 23, 4, -1, 0}));
  EXPECT_EQ(rd.fields[1], (FieldDescription{"text", 0, 0, 25, -1, -1, 0}));
  EXPECT_EQ(std::get<DataRow>(got[20]), (DataRow{{"1", std::nullopt}}));
  EXPECT_EQ(std::get<CommandComplete>(got[21]).tag, "SELECT 1");

  EXPECT_EQ(std::get<CopyResponse>(got[23]), (CopyResponse{'H', 0, {0}}));
  EXPECT_EQ(std::get<CopyData>(got[24]).data, "1\n");
  EXPECT_EQ(std::get<CopyData>(got[25]).data, "2\n");
  EXPECT_TRUE(std::holds_alternative<CopyDone>(got[26]));
  EXPECT_EQ(std::get<CommandComplete>(got[27]).tag, "COPY 2");
  EXPECT_TRUE(std::holds_alternative<ReadyForQuery>(got[28]));

  EXPECT_EQ(encode_all(got), stream);
}

TEST(BackendCapture, PgbenchExtendedBatch) {
  std::string stream = from_hex(kPgbenchExtendedServer);
  std::vector<BackendMessage> got = decode_all(split_frames(stream));
  ASSERT_EQ(got.size(), 6u);
  EXPECT_TRUE(std::holds_alternative<ParseComplete>(got[0]));
  EXPECT_TRUE(std::holds_alternative<BindComplete>(got[1]));
  EXPECT_EQ(std::get<RowDescription>(got[2]).fields[0].name, "int4");
  EXPECT_EQ(std::get<DataRow>(got[3]), (DataRow{{"7", std::nullopt}}));
  EXPECT_EQ(std::get<CommandComplete>(got[4]).tag, "SELECT 1");
  EXPECT_EQ(std::get<ReadyForQuery>(got[5]).status, 'I');
  EXPECT_EQ(encode_all(got), stream);
}

TEST(BackendCapture, DivisionByZeroErrorResponse) {
  std::string stream = from_hex(kDivisionByZeroServer);
  std::vector<BackendMessage> got = decode_all(split_frames(stream));
  ASSERT_EQ(got.size(), 2u);
  const auto& e = std::get<ErrorFields>(got[0]);
  EXPECT_EQ(e.type, 'E');
  EXPECT_EQ(e.get('S'), "ERROR");
  EXPECT_EQ(e.get('V'), "ERROR");
  EXPECT_EQ(e.get('C'), "22012");
  EXPECT_EQ(e.get('M'), "division by zero");
  EXPECT_EQ(e.get('R'), "int4div");
  EXPECT_EQ(e.get('D'), std::nullopt);
  EXPECT_EQ(e.fields.size(), 7u);
  EXPECT_EQ(encode_all(got), stream);
}

TEST(EncodeError, WritesSeverityTwiceThenSqlstateAndMessage) {
  std::string out;
  encode_error(out, "FATAL", "08P01", "invalid frontend message type 90");
  std::string body = "SFATAL" + std::string(1, '\0') + nul("VFATAL") + nul("C08P01") +
                     nul("Minvalid frontend message type 90") + std::string(1, '\0');
  EXPECT_EQ(out, frame('E', body));
  auto r = decode_backend('E', body);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(std::get<ErrorFields>(*r).get('C'), "08P01");
}

TEST(EncodeError, NoticeKeepsItsType) {
  std::string out = "prefix";
  encode_error(out, "WARNING", "01000", "careful", 'N');
  FrameResult f = next_frame(std::string_view(out).substr(6), kTestMaxBody);
  ASSERT_EQ(f.type, 'N');
  auto r = decode_backend(f.type, f.body);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(std::get<ErrorFields>(*r).type, 'N');
  EXPECT_EQ(std::get<ErrorFields>(*r).get('M'), "careful");
}

// Every BackendMessage alternative with the type byte encode() must write for it.
std::vector<std::pair<char, BackendMessage>> samples() {
  return {
      {'R', AuthenticationOk{}},
      {'R', AuthenticationKerberosV5{}},
      {'R', AuthenticationCleartextPassword{}},
      {'R', AuthenticationMD5Password{{'\0', '\xff', 'a', 'b'}}},
      {'R', AuthenticationGSS{}},
      {'R', AuthenticationGSSContinue{std::string("\0gss", 4)}},
      {'R', AuthenticationSSPI{}},
      {'R', AuthenticationSASL{{"SCRAM-SHA-256-PLUS", "SCRAM-SHA-256"}}},
      {'R', AuthenticationSASLContinue{"r=abc,s=def,i=4096"}},
      {'R', AuthenticationSASLFinal{"v=xyz"}},
      {'K', BackendKeyData{1234, -5678}},
      {'2', BindComplete{}},
      {'3', CloseComplete{}},
      {'C', CommandComplete{"INSERT 0 1"}},
      {'d', CopyData{std::string("x\0y", 3)}},
      {'c', CopyDone{}},
      {'G', CopyResponse{'G', 0, {0, 0}}},
      {'H', CopyResponse{'H', 1, {1}}},
      {'W', CopyResponse{'W', 0, {}}},
      {'D', DataRow{{"1", std::nullopt, "", std::string("\0", 1)}}},
      {'D', DataRow{}},
      {'I', EmptyQueryResponse{}},
      {'E', ErrorFields{'E', {{'S', "ERROR"}, {'C', "42P01"}, {'M', "no such table"}}}},
      {'N', ErrorFields{'N', {{'S', "NOTICE"}, {'M', ""}}}},
      {'E', ErrorFields{'E', {}}},
      {'V', FunctionCallResponse{"result"}},
      {'V', FunctionCallResponse{std::nullopt}},
      {'v', NegotiateProtocolVersion{0, {"_pq_.compression", "_pq_.x"}}},
      {'n', NoData{}},
      {'A', NotificationResponse{42, "jobs", "{\"id\":1}"}},
      {'t', ParameterDescription{{23, 25, 0}}},
      {'S', ParameterStatus{"TimeZone", "Etc/UTC"}},
      {'1', ParseComplete{}},
      {'s', PortalSuspended{}},
      {'Z', ReadyForQuery{'T'}},
      {'Z', ReadyForQuery{'E'}},
      {'T', RowDescription{{{"id", 16384, 1, 23, 4, -1, 0}, {"", 0, 0, 25, -1, -1, 1}}}},
  };
}

TEST(BackendRoundTrip, EveryMessageTypeWithItsTypeByte) {
  std::vector<bool> covered(std::variant_size_v<BackendMessage>, false);
  for (const auto& [type, m] : samples()) {
    covered[m.index()] = true;
    std::string out;
    encode(m, out);
    FrameResult f = next_frame(out, kTestMaxBody);
    ASSERT_EQ(f.status, FrameStatus::kFrame);
    EXPECT_EQ(f.consumed, out.size());
    EXPECT_EQ(f.type, type) << "variant " << m.index();
    auto r = decode_backend(f.type, f.body);
    ASSERT_TRUE(r.has_value()) << "variant " << m.index() << ": " << r.error().message();
    EXPECT_EQ(*r, m) << "variant " << m.index();
  }
  for (size_t i = 0; i < covered.size(); ++i) EXPECT_TRUE(covered[i]) << "no sample of " << i;
}

bool last_field_is_the_rest(const BackendMessage& m) {
  return std::holds_alternative<CopyData>(m) ||
         std::holds_alternative<AuthenticationGSSContinue>(m) ||
         std::holds_alternative<AuthenticationSASLContinue>(m) ||
         std::holds_alternative<AuthenticationSASLFinal>(m);
}

TEST(BackendTruncation, EveryStrictPrefixIsAnError) {
  for (const auto& [type, m] : samples()) {
    if (last_field_is_the_rest(m)) continue;
    std::string out;
    encode(m, out);
    std::string_view body = std::string_view(out).substr(kHeaderSize);
    for (size_t n = 0; n < body.size(); ++n) {
      EXPECT_FALSE(decode_backend(type, body.substr(0, n)).has_value())
          << "variant " << m.index() << " cut to " << n;
    }
  }
}

TEST(BackendErrors, UnknownTypeIsRejected) {
  for (char type : {'Q', 'P', 'X', 'x', '\0'}) {
    EXPECT_EQ(decode_backend(type, "").error(), code(ProtocolError::kUnknownMessageType)) << type;
  }
}

TEST(BackendErrors, UnknownAuthenticationCodeIsUnknownType) {
  for (uint32_t c : {1u, 4u, 6u, 13u, 0xffffffffu}) {
    EXPECT_EQ(decode_backend('R', be32(c)).error(), code(ProtocolError::kUnknownMessageType)) << c;
  }
}

TEST(BackendErrors, AuthenticationWithoutCodeIsTruncated) {
  EXPECT_EQ(decode_backend('R', std::string(2, '\0')).error(), code(ProtocolError::kTruncated));
}

TEST(BackendErrors, AuthenticationOkWithTrailingBytes) {
  EXPECT_EQ(decode_backend('R', be32(0) + "x").error(), code(ProtocolError::kTrailingBytes));
}

TEST(BackendErrors, MD5SaltShortIsTruncated) {
  EXPECT_EQ(decode_backend('R', be32(5) + "abc").error(), code(ProtocolError::kTruncated));
}

TEST(BackendErrors, SASLWithoutMechanismsIsBadValue) {
  EXPECT_EQ(decode_backend('R', be32(10) + std::string(1, '\0')).error(),
            code(ProtocolError::kBadValue));
}

TEST(BackendErrors, SASLWithoutListTerminatorIsMissingTerminator) {
  EXPECT_EQ(decode_backend('R', be32(10) + nul("SCRAM-SHA-256")).error(),
            code(ProtocolError::kMissingTerminator));
}

TEST(BackendErrors, DataRowColumnLengthMinusTwoIsBadCount) {
  EXPECT_EQ(decode_backend('D', be16(1) + be32(0xfffffffe)).error(),
            code(ProtocolError::kBadCount));
}

TEST(BackendErrors, DataRowColumnLongerThanTheBodyIsBadCount) {
  EXPECT_EQ(decode_backend('D', be16(1) + be32(10) + "abc").error(),
            code(ProtocolError::kBadCount));
}

TEST(BackendErrors, DataRowColumnCountLargerThanRemainingBytesIsBadCount) {
  EXPECT_EQ(decode_backend('D', be16(2) + be32(0xffffffff)).error(),
            code(ProtocolError::kBadCount));
}

TEST(BackendErrors, NegotiateProtocolVersionNegativeCountIsBadCount) {
  EXPECT_EQ(decode_backend('v', be32(0) + be32(0xffffffff)).error(),
            code(ProtocolError::kBadCount));
}

TEST(BackendErrors, RowDescriptionFieldCountLargerThanRemainingBytesIsBadCount) {
  EXPECT_EQ(decode_backend('T', be16(2) + nul("a") + std::string(18, '\0')).error(),
            code(ProtocolError::kBadCount));
}

TEST(BackendErrors, ParameterDescriptionCountLargerThanRemainingBytesIsBadCount) {
  EXPECT_EQ(decode_backend('t', be16(1) + std::string(2, '\0')).error(),
            code(ProtocolError::kBadCount));
}

TEST(BackendErrors, CommandCompleteWithoutNulIsMissingTerminator) {
  EXPECT_EQ(decode_backend('C', "SELECT 1").error(), code(ProtocolError::kMissingTerminator));
}

TEST(BackendErrors, ErrorResponseWithoutFinalZeroIsTruncated) {
  EXPECT_EQ(decode_backend('E', nul("SERROR")).error(), code(ProtocolError::kTruncated));
}

TEST(BackendErrors, ErrorResponseValueWithoutNulIsMissingTerminator) {
  EXPECT_EQ(decode_backend('E', "SERROR").error(), code(ProtocolError::kMissingTerminator));
}

TEST(BackendErrors, ReadyForQueryWithUnknownStatusIsBadValue) {
  EXPECT_EQ(decode_backend('Z', "X").error(), code(ProtocolError::kBadValue));
}

TEST(BackendErrors, BindCompleteWithTrailingBytes) {
  EXPECT_EQ(decode_backend('2', "x").error(), code(ProtocolError::kTrailingBytes));
}

TEST(BackendErrors, FunctionCallResponseLengthMinusTwoIsBadCount) {
  EXPECT_EQ(decode_backend('V', be32(0xfffffffe)).error(), code(ProtocolError::kBadCount));
}

}  // namespace
}  // namespace cutover::protocol::testing
