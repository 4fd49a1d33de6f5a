// Tests for next_frame, next_startup_frame and FrameScanner, including every split of real streams.
// Not for message bodies: those are covered per direction in the other protocol tests.
#include "protocol/framing.h"

#include <gtest/gtest.h>

#include <set>
#include <string>
#include <vector>

#include "tests/protocol/golden_captures.h"
#include "tests/protocol/wire_test_util.h"

namespace cutover::protocol::testing {
namespace {

// What a session does with its read buffer: append what arrived, take every whole frame off
// the front, keep the rest. The first packet may be a startup-family packet.
class BufferedFramer {
 public:
  explicit BufferedFramer(bool expect_startup) : in_startup_(expect_startup) {}

  void feed(std::string_view chunk) {
    buffer_.append(chunk);
    while (true) {
      FrameResult r = in_startup_ ? next_startup_frame(buffer_) : next_frame(buffer_, kTestMaxBody);
      ASSERT_NE(r.status, FrameStatus::kError);
      if (r.status == FrameStatus::kNeedMore) return;
      frames_.push_back({r.type, std::string(r.body)});
      buffer_.erase(0, r.consumed);
      in_startup_ = false;
    }
  }
  const std::vector<Frame>& frames() const { return frames_; }
  bool drained() const { return buffer_.empty(); }

 private:
  bool in_startup_;
  std::string buffer_;
  std::vector<Frame> frames_;
};

// Frames of a client capture: the startup packet (type '\0') then typed frames.
std::vector<Frame> client_frames(std::string_view stream) {
  FrameResult first = next_startup_frame(stream);
  std::vector<Frame> frames{{'\0', std::string(first.body)}};
  for (Frame& f : split_frames(stream.substr(first.consumed))) frames.push_back(std::move(f));
  return frames;
}

// Offsets at which a message ends (0 included), for checking FrameScanner::at_boundary().
std::set<size_t> boundaries(std::string_view stream) {
  std::set<size_t> out{0};
  size_t pos = 0;
  while (pos < stream.size()) {
    pos += next_frame(stream.substr(pos), kTestMaxBody).consumed;
    out.insert(pos);
  }
  return out;
}

TEST(NextFrame, WholeMessage) {
  std::string bytes = frame('Q', nul("select 1")) + "Z";
  FrameResult r = next_frame(bytes, kTestMaxBody);
  ASSERT_EQ(r.status, FrameStatus::kFrame);
  EXPECT_EQ(r.type, 'Q');
  EXPECT_EQ(r.body, nul("select 1"));
  EXPECT_EQ(r.consumed, bytes.size() - 1);
}

TEST(NextFrame, NeedsMoreForEveryStrictPrefix) {
  std::string bytes = frame('C', nul("SELECT 1"));
  for (size_t n = 0; n < bytes.size(); ++n) {
    EXPECT_EQ(next_frame(bytes.substr(0, n), kTestMaxBody).status, FrameStatus::kNeedMore) << n;
  }
}

TEST(NextFrame, LengthFourIsAnEmptyBody) {
  FrameResult r = next_frame(frame('S', ""), kTestMaxBody);
  ASSERT_EQ(r.status, FrameStatus::kFrame);
  EXPECT_TRUE(r.body.empty());
  EXPECT_EQ(r.consumed, 5u);
}

TEST(NextFrame, LengthThreeIsTooSmall) {
  FrameResult r = next_frame(std::string("Q") + be32(3), kTestMaxBody);
  EXPECT_EQ(r.status, FrameStatus::kError);
  EXPECT_EQ(r.error, ProtocolError::kLengthTooSmall);
}

TEST(NextFrame, LengthZeroIsTooSmall) {
  EXPECT_EQ(next_frame(std::string("Q") + be32(0), kTestMaxBody).error,
            ProtocolError::kLengthTooSmall);
}

TEST(NextFrame, LengthOverMaxFailsBeforeTheBodyArrives) {
  FrameResult r = next_frame(std::string("d") + be32(4 + 11), 10);
  EXPECT_EQ(r.status, FrameStatus::kError);
  EXPECT_EQ(r.error, ProtocolError::kMessageTooLarge);
}

TEST(NextFrame, LengthAtMaxIsAccepted) {
  FrameResult r = next_frame(frame('d', "0123456789"), 10);
  EXPECT_EQ(r.status, FrameStatus::kFrame);
}

TEST(NextFrame, LengthWordAllOnesIsTooLarge) {
  EXPECT_EQ(next_frame(std::string("d") + be32(0xffffffff), kTestMaxBody).error,
            ProtocolError::kMessageTooLarge);
}

TEST(NextStartupFrame, RealPsqlStartupMessage) {
  std::string bytes = from_hex(kPsqlStartup);
  FrameResult r = next_startup_frame(bytes);
  ASSERT_EQ(r.status, FrameStatus::kFrame);
  EXPECT_EQ(r.type, '\0');
  EXPECT_EQ(r.consumed, bytes.size());
  EXPECT_EQ(r.body.size(), bytes.size() - 4);
  for (size_t n = 0; n < bytes.size(); ++n) {
    EXPECT_EQ(next_startup_frame(bytes.substr(0, n)).status, FrameStatus::kNeedMore) << n;
  }
}

TEST(NextStartupFrame, LengthSevenIsTooSmall) {
  EXPECT_EQ(next_startup_frame(be32(7) + "abc").error, ProtocolError::kLengthTooSmall);
}

TEST(NextStartupFrame, LengthOverTenThousandIsTooLarge) {
  EXPECT_EQ(next_startup_frame(be32(10001)).error, ProtocolError::kMessageTooLarge);
  EXPECT_EQ(next_startup_frame(be32(10000)).status, FrameStatus::kNeedMore);
}

TEST(NextStartupFrame, SmallerCapIsHonoured) {
  EXPECT_EQ(next_startup_frame(be32(64), 63).error, ProtocolError::kMessageTooLarge);
}

// The same messages must come out however the stream is cut into reads.
void expect_every_split_frames_alike(std::string_view stream, bool expect_startup) {
  std::vector<Frame> want = expect_startup ? client_frames(stream) : split_frames(stream);
  ASSERT_FALSE(want.empty());
  for (size_t cut = 0; cut <= stream.size(); ++cut) {
    BufferedFramer f(expect_startup);
    f.feed(stream.substr(0, cut));
    f.feed(stream.substr(cut));
    ASSERT_EQ(f.frames(), want) << "cut at " << cut;
    ASSERT_TRUE(f.drained());
  }
  BufferedFramer f(expect_startup);
  for (char c : stream) f.feed(std::string_view(&c, 1));
  EXPECT_EQ(f.frames(), want);
}

TEST(Split, ServerStreamAtEveryOffset) {
  expect_every_split_frames_alike(from_hex(kPsqlScramServer), false);
  expect_every_split_frames_alike(from_hex(kPgbenchExtendedServer), false);
  expect_every_split_frames_alike(from_hex(kDivisionByZeroServer), false);
}

TEST(Split, ClientStreamWithStartupAtEveryOffset) {
  expect_every_split_frames_alike(from_hex(kPsqlScramClient), true);
  expect_every_split_frames_alike(from_hex(kPgbenchExtendedClient), true);
}

TEST(Split, EmptyBodiesBackToBack) {
  std::string stream = frame('S', "") + frame('H', "") + frame('S', "") + frame('X', "");
  expect_every_split_frames_alike(stream, false);
}

TEST(Split, CancelRequestAtEveryOffset) {
  std::string bytes = startup_frame(be32(80877102) + be32(4242) + be32(99));
  for (size_t n = 0; n < bytes.size(); ++n) {
    EXPECT_EQ(next_startup_frame(bytes.substr(0, n)).status, FrameStatus::kNeedMore);
  }
  EXPECT_EQ(next_startup_frame(bytes).consumed, 16u);
}

// FrameScanner delivers (type, body) with bodies only for captured types.
void scan(FrameScanner& s, std::string_view chunk, std::vector<Frame>& got) {
  ProtocolError e = s.feed(chunk, [&got](char type, std::string_view body) {
    got.push_back({type, std::string(body)});
  });
  EXPECT_EQ(e, ProtocolError{});
}

void expect_scanner_alike_at_every_split(std::string_view stream, std::string_view capture) {
  std::vector<Frame> want = split_frames(stream);
  for (Frame& f : want) {
    if (capture.find(f.type) == std::string_view::npos) f.body.clear();
  }
  std::set<size_t> ends = boundaries(stream);
  for (size_t cut = 0; cut <= stream.size(); ++cut) {
    FrameScanner s(capture, kTestMaxBody);
    std::vector<Frame> got;
    scan(s, stream.substr(0, cut), got);
    ASSERT_EQ(s.at_boundary(), ends.count(cut) == 1) << "cut at " << cut;
    scan(s, stream.substr(cut), got);
    ASSERT_EQ(got, want) << "cut at " << cut;
    ASSERT_TRUE(s.at_boundary());
  }
  FrameScanner s(capture, kTestMaxBody);
  std::vector<Frame> got;
  for (size_t i = 0; i < stream.size(); ++i) {
    scan(s, stream.substr(i, 1), got);
    ASSERT_EQ(s.at_boundary(), ends.count(i + 1) == 1) << "after byte " << i;
  }
  EXPECT_EQ(got, want);
}

TEST(FrameScanner, ServerStreamAtEveryOffset) {
  expect_scanner_alike_at_every_split(from_hex(kPsqlScramServer), "CEZ");
  expect_scanner_alike_at_every_split(from_hex(kPgbenchExtendedServer), "TDC");
  expect_scanner_alike_at_every_split(from_hex(kDivisionByZeroServer), "E");
}

TEST(FrameScanner, ClientStreamAtEveryOffset) {
  std::string client = from_hex(kPgbenchExtendedClient);
  expect_scanner_alike_at_every_split(skip_startup(client), "QPB");
  expect_scanner_alike_at_every_split(skip_startup(client), "");
}

TEST(FrameScanner, CapturedBodiesDoNotLeakIntoTheNext) {
  std::string stream = frame('Q', nul("long query")) + frame('Q', nul(""));
  expect_scanner_alike_at_every_split(stream, "Q");
}

TEST(FrameScanner, LengthThreeIsTooSmallAtAnySplit) {
  std::string stream = frame('S', "") + "Q" + be32(3);
  for (size_t cut = 0; cut <= stream.size(); ++cut) {
    FrameScanner s("Q", kTestMaxBody);
    auto ignore = [](char, std::string_view) {};
    ProtocolError first = s.feed(std::string_view(stream).substr(0, cut), ignore);
    ProtocolError e =
        first != ProtocolError{} ? first : s.feed(std::string_view(stream).substr(cut), ignore);
    EXPECT_EQ(e, ProtocolError::kLengthTooSmall) << cut;
  }
}

TEST(FrameScanner, LengthOverMaxIsTooLargeForCapturedAndRelayedTypes) {
  for (char type : {'D', 'd'}) {
    FrameScanner s("D", 16);
    std::string header = std::string(1, type) + be32(4 + 17);
    EXPECT_EQ(s.feed(header, [](char, std::string_view) {}), ProtocolError::kMessageTooLarge);
  }
}

TEST(FrameScanner, NotAtBoundaryInsideHeaderOrBody) {
  FrameScanner s("", kTestMaxBody);
  int seen = 0;
  auto count = [&seen](char, std::string_view) { ++seen; };
  EXPECT_TRUE(s.at_boundary());
  s.feed(std::string_view("d\0\0", 3), count);
  EXPECT_FALSE(s.at_boundary());
  s.feed(std::string_view("\0\x06x", 3), count);
  EXPECT_FALSE(s.at_boundary());
  s.feed("y", count);
  EXPECT_TRUE(s.at_boundary());
  EXPECT_EQ(seen, 1);
}

}  // namespace
}  // namespace cutover::protocol::testing
