// Tests for frontend message decode/encode: real client captures, round trips of every message,
// and malformed bodies named after what is wrong with them. Not for framing or startup.
#include "protocol/frontend.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "tests/protocol/golden_captures.h"
#include "tests/protocol/wire_test_util.h"

namespace cutover::protocol::testing {
namespace {

TEST(FrontendCapture, PgbenchExtendedProtocolSession) {
  std::string stream = from_hex(kPgbenchExtendedClient);
  std::vector<Frame> frames = split_frames(skip_startup(stream));
  std::string types;
  for (const Frame& f : frames) types += f.type;
  ASSERT_EQ(types, "ppPBDESX");

  auto initial = decode_sasl_initial_response(frames[0].body);
  ASSERT_TRUE(initial.has_value());
  EXPECT_EQ(initial->mechanism, "SCRAM-SHA-256");
  ASSERT_TRUE(initial->data.has_value());
  EXPECT_EQ(initial->data->rfind("n,,n=,r=", 0), 0u);
  auto response = decode_sasl_response(frames[1].body);
  ASSERT_TRUE(response.has_value());
  EXPECT_EQ(response->data.rfind("c=biws,r=", 0), 0u);

  std::vector<FrontendMessage> got;
  for (const Frame& f : frames) {
    auto r = decode_frontend(f.type, f.body);
    ASSERT_TRUE(r.has_value()) << f.type << ": " << r.error().message();
    got.push_back(*r);
  }
  EXPECT_EQ(std::get<AuthenticationResponse>(got[0]).data, frames[0].body);
  EXPECT_EQ(std::get<Parse>(got[2]), (Parse{"", "select $1::int, null::text;", {}}));
  EXPECT_EQ(std::get<Bind>(got[3]), (Bind{"", "", {}, {"7"}, {0}}));
  EXPECT_EQ(std::get<Describe>(got[4]), (Describe{'P', ""}));
  EXPECT_EQ(std::get<Execute>(got[5]), (Execute{"", 0}));
  EXPECT_TRUE(std::holds_alternative<Sync>(got[6]));
  EXPECT_TRUE(std::holds_alternative<Terminate>(got[7]));

  // Re-encoding what was decoded gives back the client's bytes exactly.
  std::string out;
  for (const FrontendMessage& m : got) encode(m, out);
  EXPECT_EQ(out, skip_startup(stream));
}

TEST(FrontendCapture, PsqlSimpleQueries) {
  std::vector<Frame> frames = split_frames(skip_startup(from_hex(kPsqlScramClient)));
  ASSERT_EQ(frames.size(), 5u);
  auto q = decode_frontend(frames[2].type, frames[2].body);
  ASSERT_TRUE(q.has_value());
  EXPECT_EQ(std::get<Query>(*q).sql, "select 1, null::text;");
  auto copy = decode_frontend(frames[3].type, frames[3].body);
  ASSERT_TRUE(copy.has_value());
  EXPECT_EQ(std::get<Query>(*copy).sql.rfind("COPY", 0), 0u);
}

TEST(Bind, HandBuiltWithNullAndBinaryParameters) {
  std::string body = nul("portal") + nul("stmt") + be16(2) + be16(0) + be16(1) + be16(2) +
                     be32(0xffffffff) + be32(3) + "abc" + be16(1) + be16(1);
  auto r = decode_frontend('B', body);
  ASSERT_TRUE(r.has_value()) << r.error().message();
  EXPECT_EQ(std::get<Bind>(*r), (Bind{"portal", "stmt", {0, 1}, {std::nullopt, "abc"}, {1}}));
}

TEST(Bind, SixtyFiveThousandParametersAreNotANegativeCount) {
  // libpq allows up to 65535 parameters; PostgreSQL reads the Int16 count as unsigned.
  Bind m;
  m.parameters.assign(40000, std::nullopt);
  std::string out;
  encode(m, out);
  FrameResult f = next_frame(out, kTestMaxBody);
  auto r = decode_frontend(f.type, f.body);
  ASSERT_TRUE(r.has_value()) << r.error().message();
  EXPECT_EQ(std::get<Bind>(*r).parameters.size(), 40000u);
}

// Every FrontendMessage alternative, with awkward values where the layout allows them.
std::vector<FrontendMessage> samples() {
  return {
      Query{"select 1"},
      Query{""},
      Parse{"s1", "select $1, $2", {23, 0}},
      Parse{"", "", {}},
      Bind{"p", "s", {1}, {std::string("\0\x01", 2), std::nullopt, ""}, {0, 1}},
      Bind{},
      Describe{'S', "s1"},
      Describe{'P', ""},
      Execute{"p", 100},
      Execute{"", -1},
      Sync{},
      Flush{},
      Close{'P', "p"},
      Close{'S', ""},
      CopyData{std::string("a\0b\n", 4)},
      CopyData{""},
      CopyDone{},
      CopyFail{"client gave up"},
      FunctionCall{1598, {1}, {std::nullopt, "x"}, 1},
      FunctionCall{},
      Terminate{},
      AuthenticationResponse{std::string("\0\xff", 2)},
  };
}

Result<FrontendMessage> decode_encoded(const std::string& bytes, char* type = nullptr) {
  FrameResult f = next_frame(bytes, kTestMaxBody);
  EXPECT_EQ(f.status, FrameStatus::kFrame);
  EXPECT_EQ(f.consumed, bytes.size());
  if (type != nullptr) *type = f.type;
  return decode_frontend(f.type, f.body);
}

TEST(FrontendRoundTrip, EveryMessageType) {
  for (const FrontendMessage& m : samples()) {
    std::string out;
    encode(m, out);
    auto r = decode_encoded(out);
    ASSERT_TRUE(r.has_value()) << "variant " << m.index() << ": " << r.error().message();
    EXPECT_EQ(*r, m) << "variant " << m.index();
  }
}

TEST(FrontendRoundTrip, ConcreteOverloadsMatchTheVariant) {
  for (const FrontendMessage& m : samples()) {
    std::string via_variant, via_concrete;
    encode(m, via_variant);
    std::visit([&via_concrete](const auto& x) { encode(x, via_concrete); }, m);
    EXPECT_EQ(via_variant, via_concrete) << "variant " << m.index();
  }
}

TEST(FrontendRoundTrip, AuthenticationResponses) {
  std::string out;
  char type = 0;
  encode(PasswordMessage{"md5abc"}, out);
  auto raw = decode_encoded(out, &type);
  ASSERT_TRUE(raw.has_value());
  EXPECT_EQ(type, 'p');
  EXPECT_EQ(decode_password_message(std::get<AuthenticationResponse>(*raw).data).value(),
            PasswordMessage{"md5abc"});

  for (const SASLInitialResponse& m :
       {SASLInitialResponse{"SCRAM-SHA-256", "n,,n=,r=abc"},
        SASLInitialResponse{"SCRAM-SHA-256", std::nullopt}, SASLInitialResponse{"X", ""}}) {
    out.clear();
    encode(m, out);
    auto r = decode_encoded(out, &type);
    ASSERT_TRUE(r.has_value());
    EXPECT_EQ(type, 'p');
    EXPECT_EQ(decode_sasl_initial_response(std::get<AuthenticationResponse>(*r).data).value(), m);
  }

  out.clear();
  encode(SASLResponse{"c=biws,r=abc,p=xyz"}, out);
  auto r = decode_encoded(out);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(decode_sasl_response(std::get<AuthenticationResponse>(*r).data).value(),
            SASLResponse{"c=biws,r=abc,p=xyz"});
}

// Cutting a body short must fail cleanly, except where the last field is "the rest".
TEST(FrontendTruncation, EveryStrictPrefixIsAnError) {
  for (const FrontendMessage& m : samples()) {
    if (std::holds_alternative<CopyData>(m) || std::holds_alternative<AuthenticationResponse>(m)) {
      continue;
    }
    std::string out;
    encode(m, out);
    std::string_view body = std::string_view(out).substr(kHeaderSize);
    for (size_t n = 0; n < body.size(); ++n) {
      EXPECT_FALSE(decode_frontend(out[0], body.substr(0, n)).has_value())
          << "variant " << m.index() << " cut to " << n;
    }
  }
}

TEST(FrontendErrors, QueryWithoutNulIsMissingTerminator) {
  EXPECT_EQ(decode_frontend('Q', "select 1").error(), code(ProtocolError::kMissingTerminator));
}

TEST(FrontendErrors, SyncWithABodyHasTrailingBytes) {
  EXPECT_EQ(decode_frontend('S', "x").error(), code(ProtocolError::kTrailingBytes));
}

TEST(FrontendErrors, QueryWithBytesAfterTheNulHasTrailingBytes) {
  EXPECT_EQ(decode_frontend('Q', nul("select 1") + "x").error(),
            code(ProtocolError::kTrailingBytes));
}

TEST(FrontendErrors, UnknownTypeIsRejected) {
  for (char type : {'Z', 'T', 'R', '\0', '\xff'}) {
    EXPECT_EQ(decode_frontend(type, "").error(), code(ProtocolError::kUnknownMessageType)) << type;
  }
}

TEST(FrontendErrors, BindParameterLengthMinusTwoIsBadCount) {
  std::string body = nul("") + nul("") + be16(0) + be16(1) + be32(0xfffffffe) + be16(0);
  EXPECT_EQ(decode_frontend('B', body).error(), code(ProtocolError::kBadCount));
}

TEST(FrontendErrors, BindParameterLongerThanTheBodyIsBadCount) {
  std::string body = nul("") + nul("") + be16(0) + be16(1) + be32(100) + "abc" + be16(0);
  EXPECT_EQ(decode_frontend('B', body).error(), code(ProtocolError::kBadCount));
}

TEST(FrontendErrors, BindParameterCountLargerThanRemainingBytesIsBadCount) {
  std::string body = nul("") + nul("") + be16(0) + be16(3) + be32(0xffffffff) + be16(0);
  EXPECT_EQ(decode_frontend('B', body).error(), code(ProtocolError::kBadCount));
}

TEST(FrontendErrors, ParseTypeCountLargerThanRemainingBytesIsBadCount) {
  std::string body = nul("") + nul("select $1") + be16(2) + be32(23);
  EXPECT_EQ(decode_frontend('P', body).error(), code(ProtocolError::kBadCount));
}

TEST(FrontendErrors, BindFormatCountAllOnesWithoutTheFormatsIsBadCount) {
  std::string body = nul("") + nul("") + be16(0xffff) + be16(0) + be16(0);
  EXPECT_EQ(decode_frontend('B', body).error(), code(ProtocolError::kBadCount));
}

TEST(FrontendErrors, FunctionCallArgumentLengthMinusTwoIsBadCount) {
  std::string body = be32(1598) + be16(0) + be16(1) + be32(0xfffffffe) + be16(0);
  EXPECT_EQ(decode_frontend('F', body).error(), code(ProtocolError::kBadCount));
}

TEST(FrontendErrors, DescribeOfUnknownKindIsBadValue) {
  EXPECT_EQ(decode_frontend('D', "X" + nul("name")).error(), code(ProtocolError::kBadValue));
  EXPECT_EQ(decode_frontend('C', "s" + nul("name")).error(), code(ProtocolError::kBadValue));
}

TEST(FrontendErrors, ExecuteWithoutMaxRowsIsTruncated) {
  EXPECT_EQ(decode_frontend('E', nul("") + std::string(2, '\0')).error(),
            code(ProtocolError::kTruncated));
}

TEST(FrontendErrors, PasswordWithoutNulIsMissingTerminator) {
  EXPECT_EQ(decode_password_message("secret").error(), code(ProtocolError::kMissingTerminator));
  EXPECT_EQ(decode_password_message(nul("secret") + "x").error(),
            code(ProtocolError::kTrailingBytes));
}

TEST(FrontendErrors, SASLInitialResponseDataLengthMinusTwoIsBadCount) {
  EXPECT_EQ(decode_sasl_initial_response(nul("SCRAM-SHA-256") + be32(0xfffffffe)).error(),
            code(ProtocolError::kBadCount));
}

TEST(FrontendErrors, SASLInitialResponseDataLongerThanTheBodyIsBadCount) {
  EXPECT_EQ(decode_sasl_initial_response(nul("SCRAM-SHA-256") + be32(5) + "abc").error(),
            code(ProtocolError::kBadCount));
}

TEST(FrontendErrors, SASLInitialResponseWithTrailingBytes) {
  EXPECT_EQ(decode_sasl_initial_response(nul("SCRAM-SHA-256") + be32(1) + "ab").error(),
            code(ProtocolError::kTrailingBytes));
}

}  // namespace
}  // namespace cutover::protocol::testing
