// ParseCompleteFilter: removes exactly the ParseComplete answering cutover's own Parse, after
// the units still owed and the unit's own earlier Parses, across every split of the stream.
#include "proxy/reply_filter.h"

#include <gtest/gtest.h>

#include "protocol/framing.h"
#include "proxy/stream.h"

namespace cutover::proxy {
namespace {

std::string message(char type, std::string_view body = "") {
  std::string out;
  append_message(out, type, body);
  return out;
}

const std::string kParseComplete = message('1');
const std::string kBindComplete = message('2');
const std::string kReady = message('Z', "I");
const std::string kRow = message('D', std::string(40, 'x'));
const std::string kError = message('E', "SERROR\0C42P01\0\0");

// Relays `stream` through a scanner and the filter in chunks cut at `splits`.
std::string relay(ParseCompleteFilter& filter, std::string_view stream,
                  const std::vector<size_t>& splits) {
  protocol::FrameScanner scanner("", 1 << 20);
  std::string out;
  size_t at = 0;
  auto cuts = splits;
  cuts.push_back(stream.size());
  for (size_t cut : cuts) {
    std::string_view chunk = stream.substr(at, cut - at);
    at = cut;
    scanner.feed(chunk,
                 [&](char type, std::string_view, size_t end) { filter.on_message(type, end); });
    out += filter.engaged() ? filter.filter(chunk) : chunk;
  }
  return out;
}

TEST(ParseCompleteFilter, RemovesTheInjectedAnswerAfterEarlierUnitsAtEverySplit) {
  // An earlier unit still owed (one row, ReadyForQuery), then the unit with cutover's Parse
  // first: ParseComplete (removed), BindComplete, a row, ReadyForQuery.
  std::string earlier = kRow + kReady;
  std::string unit = kParseComplete + kBindComplete + kRow + kReady;
  for (size_t split = 0; split <= earlier.size() + unit.size(); ++split) {
    ParseCompleteFilter filter;
    filter.expect(1, 0);
    EXPECT_EQ(relay(filter, earlier + unit, {split}), earlier + kBindComplete + kRow + kReady)
        << "split at " << split;
    EXPECT_FALSE(filter.engaged());
  }
}

TEST(ParseCompleteFilter, CountsTheUnitsOwnParsesBeforeIt) {
  // The client's Parse, then cutover's: the second ParseComplete goes.
  ParseCompleteFilter filter;
  filter.expect(0, 1);
  std::string stream = kParseComplete + kParseComplete + kBindComplete + kReady;
  EXPECT_EQ(relay(filter, stream, {3, 7}), kParseComplete + kBindComplete + kReady);
}

TEST(ParseCompleteFilter, AnErrorFirstMeansTheParseWasSkipped) {
  ParseCompleteFilter filter;
  filter.expect(0, 1);
  std::string stream = kParseComplete + kError + kReady + kParseComplete + kReady;
  EXPECT_EQ(relay(filter, stream, {}), stream);
  EXPECT_FALSE(filter.engaged());
}

TEST(ParseCompleteFilter, TwoExpectedRemovalsInOneChunk) {
  ParseCompleteFilter filter;
  filter.expect(0, 0);
  filter.expect(1, 0);
  std::string stream = kParseComplete + kRow + kReady + kParseComplete + kRow + kReady;
  EXPECT_EQ(relay(filter, stream, {}), kRow + kReady + kRow + kReady);
}

}  // namespace
}  // namespace cutover::proxy
