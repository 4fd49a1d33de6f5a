// Tests for the startup family: decoding real and hand-built packets, round trips, and every
// way a StartupMessage can be refused. Not for framing (framing_test.cpp).
#include "protocol/startup.h"

#include <gtest/gtest.h>

#include <string>

#include "protocol/framing.h"
#include "tests/protocol/golden_captures.h"
#include "tests/protocol/wire_test_util.h"

namespace cutover::protocol::testing {
namespace {

std::string params(std::initializer_list<std::string_view> names_and_values) {
  std::string out;
  for (std::string_view s : names_and_values) (out += s).push_back('\0');
  return out;
}

// The body of a StartupMessage (what next_startup_frame hands over).
std::string startup_body(int32_t version, std::string_view pairs_and_terminator) {
  return be32(static_cast<uint32_t>(version)) + std::string(pairs_and_terminator);
}

Result<StartupPacket> decode_whole(std::string_view packet) {
  FrameResult f = next_startup_frame(packet);
  EXPECT_EQ(f.status, FrameStatus::kFrame);
  EXPECT_EQ(f.consumed, packet.size());
  return decode_startup_packet(f.body);
}

TEST(StartupMessage, RealPsqlPacket) {
  auto r = decode_whole(from_hex(kPsqlStartup));
  ASSERT_TRUE(r.has_value()) << r.error().message();
  const auto& m = std::get<StartupMessage>(*r);
  EXPECT_EQ(m.protocol_version, kProtocolV3);
  ASSERT_EQ(m.parameters.size(), 3u);
  EXPECT_EQ(m.parameters[0].first, "user");  // wire order kept
  EXPECT_EQ(m.get("user"), "postgres");
  EXPECT_EQ(m.get("database"), "postgres");
  EXPECT_EQ(m.get("application_name"), "psql");
  EXPECT_EQ(m.get("client_encoding"), std::nullopt);
}

TEST(StartupMessage, RealPsqlPacketReencodesToTheSameBytes) {
  std::string bytes = from_hex(kPsqlStartup);
  auto r = decode_whole(bytes);
  ASSERT_TRUE(r.has_value());
  std::string out;
  encode(std::get<StartupMessage>(*r), out);
  EXPECT_EQ(out, bytes);
}

TEST(StartupMessage, AnyMinorVersionOfThreeIsAccepted) {
  auto r = decode_startup_packet(startup_body(0x00030002, params({"user", "u", ""})));
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(std::get<StartupMessage>(*r).protocol_version, 0x00030002);
}

TEST(StartupMessage, EmptyValueIsAllowed) {
  auto r =
      decode_startup_packet(startup_body(kProtocolV3, params({"user", "u", "options", "", ""})));
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(std::get<StartupMessage>(*r).get("options"), "");
}

TEST(StartupMessage, ProtocolVersionTwoIsUnsupported) {
  auto r = decode_startup_packet(startup_body(0x00020000, params({"user", "u", ""})));
  EXPECT_EQ(r.error(), code(ProtocolError::kUnsupportedProtocol));
}

TEST(StartupMessage, ProtocolVersionFourIsUnsupported) {
  auto r = decode_startup_packet(startup_body(0x00040000, params({"user", "u", ""})));
  EXPECT_EQ(r.error(), code(ProtocolError::kUnsupportedProtocol));
}

TEST(StartupMessage, UnknownRequestCodeIsUnsupported) {
  auto r = decode_startup_packet(be32(80877105));
  EXPECT_EQ(r.error(), code(ProtocolError::kUnsupportedProtocol));
}

TEST(StartupMessage, WithoutUserIsBadValue) {
  auto r = decode_startup_packet(startup_body(kProtocolV3, params({"database", "d", ""})));
  EXPECT_EQ(r.error(), code(ProtocolError::kBadValue));
}

TEST(StartupMessage, WithNoParametersAtAllIsBadValue) {
  auto r = decode_startup_packet(startup_body(kProtocolV3, std::string(1, '\0')));
  EXPECT_EQ(r.error(), code(ProtocolError::kBadValue));
}

// As in PostgreSQL's ProcessStartupPacket, a repeated name is accepted and the last value wins.
TEST(StartupMessage, RepeatedParameterKeepsBothAndTheLastWins) {
  auto r = decode_startup_packet(
      startup_body(kProtocolV3, params({"user", "a", "database", "d", "user", "b", ""})));
  ASSERT_TRUE(r.has_value());
  const auto& m = std::get<StartupMessage>(*r);
  EXPECT_EQ(m.parameters.size(), 3u);
  EXPECT_EQ(m.get("user"), "b");
}

TEST(StartupMessage, NameWithoutNulIsMissingTerminator) {
  auto r = decode_startup_packet(startup_body(kProtocolV3, "user"));
  EXPECT_EQ(r.error(), code(ProtocolError::kMissingTerminator));
}

TEST(StartupMessage, ValueWithoutNulIsMissingTerminator) {
  auto r = decode_startup_packet(startup_body(kProtocolV3, std::string("user\0postgres", 13)));
  EXPECT_EQ(r.error(), code(ProtocolError::kMissingTerminator));
}

TEST(StartupMessage, WithoutListTerminatorIsAnError) {
  auto r = decode_startup_packet(startup_body(kProtocolV3, params({"user", "u"})));
  EXPECT_EQ(r.error(), code(ProtocolError::kMissingTerminator));
}

TEST(StartupMessage, BytesAfterListTerminatorAreTrailing) {
  auto r = decode_startup_packet(startup_body(kProtocolV3, params({"user", "u", "", "x"})));
  EXPECT_EQ(r.error(), code(ProtocolError::kTrailingBytes));
}

TEST(StartupMessage, BodyShorterThanVersionIsTruncated) {
  EXPECT_EQ(decode_startup_packet(std::string("\0\x03", 2)).error(),
            code(ProtocolError::kTruncated));
  EXPECT_EQ(decode_startup_packet("").error(), code(ProtocolError::kTruncated));
}

TEST(StartupMessage, ManyParametersAreAccepted) {
  std::string pairs = params({"user", "u"});
  for (int i = 0; i < 1000; ++i) {
    std::string name = std::to_string(i);
    name.insert(0, 1, 'n');
    pairs += params({name, "v"});
  }
  pairs.push_back('\0');
  auto r = decode_startup_packet(startup_body(kProtocolV3, pairs));
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(std::get<StartupMessage>(*r).parameters.size(), 1001u);
}

TEST(SSLRequest, HandBuiltBytes) {
  auto r = decode_whole(from_hex("00000008 04d2162f"));
  ASSERT_TRUE(r.has_value());
  EXPECT_TRUE(std::holds_alternative<SSLRequest>(*r));
}

TEST(SSLRequest, WithTrailingBytesIsAnError) {
  EXPECT_EQ(decode_startup_packet(from_hex("04d2162f 00")).error(),
            code(ProtocolError::kTrailingBytes));
}

TEST(GSSENCRequest, HandBuiltBytes) {
  auto r = decode_whole(from_hex("00000008 04d21630"));
  ASSERT_TRUE(r.has_value());
  EXPECT_TRUE(std::holds_alternative<GSSENCRequest>(*r));
}

TEST(CancelRequest, HandBuiltBytes) {
  auto r = decode_whole(from_hex("00000010 04d2162e 0000100f b002f8a4"));
  ASSERT_TRUE(r.has_value());
  const auto& m = std::get<CancelRequest>(*r);
  EXPECT_EQ(m.process_id, 0x100f);
  EXPECT_EQ(m.secret_key, static_cast<int32_t>(0xb002f8a4));
}

TEST(CancelRequest, WithoutSecretKeyIsTruncated) {
  EXPECT_EQ(decode_startup_packet(from_hex("04d2162e 0000100f")).error(),
            code(ProtocolError::kTruncated));
}

TEST(CancelRequest, WithTrailingBytesIsAnError) {
  EXPECT_EQ(decode_startup_packet(from_hex("04d2162e 0000100f b002f8a4 00")).error(),
            code(ProtocolError::kTrailingBytes));
}

template <typename T>
void expect_round_trip(const T& m) {
  std::string out;
  encode(m, out);
  auto r = decode_whole(out);
  ASSERT_TRUE(r.has_value()) << r.error().message();
  ASSERT_TRUE(std::holds_alternative<T>(*r));
  EXPECT_EQ(std::get<T>(*r), m);
}

TEST(StartupRoundTrip, EveryPacket) {
  expect_round_trip(StartupMessage{kProtocolV3, {{"user", "app"}}});
  expect_round_trip(StartupMessage{
      0x00030001, {{"user", "app"}, {"database", "db"}, {"options", "-c x=y"}, {"_pq_.opt", ""}}});
  expect_round_trip(SSLRequest{});
  expect_round_trip(GSSENCRequest{});
  expect_round_trip(CancelRequest{-1, 0x7fffffff});
}

TEST(StartupRoundTrip, EncodedLengthsAreExact) {
  std::string out;
  encode(SSLRequest{}, out);
  EXPECT_EQ(out, from_hex("00000008 04d2162f"));
  out.clear();
  encode(CancelRequest{1, 2}, out);
  EXPECT_EQ(out, from_hex("00000010 04d2162e 00000001 00000002"));
}

}  // namespace
}  // namespace cutover::protocol::testing
