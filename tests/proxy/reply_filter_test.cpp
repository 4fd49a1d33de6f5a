// ReplyFilter: removes exactly the answers to what cutover itself sent old (a re-sent Parse's
// ParseComplete, the BEGIN and COMMIT around a mirrored autocommit write) and holds back a
// mirrored unit's ReadyForQuery, after the units still owed, across every split of the stream.
// Fed by a scanner that captures Z, C and E bodies, as the relay's does.
#include "proxy/link/reply_filter.h"

#include <gtest/gtest.h>

#include "protocol/framing.h"
#include "proxy/net/stream.h"

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
const std::string kError = message('E', std::string("SERROR\0C42P01\0\0", 15));

// Relays `stream` through a scanner and the filter in chunks cut at `splits`.
std::string relay(ReplyFilter& filter, std::string_view stream, const std::vector<size_t>& splits,
                  const char* capture = "ZCE") {
  protocol::FrameScanner scanner(capture, 1 << 20);
  std::string out;
  size_t at = 0;
  auto cuts = splits;
  cuts.push_back(stream.size());
  for (size_t cut : cuts) {
    std::string_view chunk = stream.substr(at, cut - at);
    at = cut;
    scanner.feed(chunk, [&](char type, std::string_view body, size_t end) {
      filter.on_message(type, body, end);
    });
    out += filter.engaged() ? filter.filter(chunk) : chunk;
  }
  return out;
}

TEST(ReplyFilter, RemovesTheInjectedAnswerAfterEarlierUnitsAtEverySplit) {
  // An earlier unit still owed (one row, ReadyForQuery), then the unit with cutover's Parse
  // first: ParseComplete (removed), BindComplete, a row, ReadyForQuery.
  std::string earlier = kRow + kReady;
  std::string unit = kParseComplete + kBindComplete + kRow + kReady;
  for (size_t split = 0; split <= earlier.size() + unit.size(); ++split) {
    ReplyFilter filter;
    filter.drop_parse_complete(1, 0);
    EXPECT_EQ(relay(filter, earlier + unit, {split}), earlier + kBindComplete + kRow + kReady)
        << "split at " << split;
    EXPECT_FALSE(filter.engaged());
  }
}

TEST(ReplyFilter, CountsTheUnitsOwnParsesBeforeIt) {
  // The client's Parse, then cutover's: the second ParseComplete goes.
  ReplyFilter filter;
  filter.drop_parse_complete(0, 1);
  std::string stream = kParseComplete + kParseComplete + kBindComplete + kReady;
  EXPECT_EQ(relay(filter, stream, {3, 7}), kParseComplete + kBindComplete + kReady);
}

TEST(ReplyFilter, AnErrorFirstMeansTheParseWasSkipped) {
  ReplyFilter filter;
  filter.drop_parse_complete(0, 1);
  std::string stream = kParseComplete + kError + kReady + kParseComplete + kReady;
  EXPECT_EQ(relay(filter, stream, {}), stream);
  EXPECT_FALSE(filter.engaged());
}

TEST(ReplyFilter, TwoExpectedRemovalsInOneChunk) {
  ReplyFilter filter;
  filter.drop_parse_complete(0, 0);
  filter.drop_parse_complete(1, 0);
  std::string stream = kParseComplete + kRow + kReady + kParseComplete + kRow + kReady;
  EXPECT_EQ(relay(filter, stream, {}), kRow + kReady + kRow + kReady);
}

std::string complete(std::string_view tag) { return message('C', std::string(tag) + '\0'); }

TEST(ReplyFilter, WrappedAutocommitWriteShowsOnlyTheClientsAnswerAtEverySplit) {
  // cutover's BEGIN (taken out whole), the client's UPDATE ... RETURNING (a row and its tag go
  // out, its ReadyForQuery is held), then cutover's COMMIT (tag and ReadyForQuery held).
  std::string begin = complete("BEGIN") + message('Z', "T");
  std::string update = kRow + complete("UPDATE 1") + message('Z', "T");
  std::string commit = complete("COMMIT") + kReady;
  std::string stream = begin + update + commit;
  for (size_t split = 0; split <= stream.size(); ++split) {
    ReplyFilter filter;
    filter.drop_answer(0);
    filter.hold_ready(1);
    filter.hold_ready(2, {.drop_tags = true});
    EXPECT_EQ(relay(filter, stream, {split}), kRow + complete("UPDATE 1")) << "split " << split;
    EXPECT_FALSE(filter.engaged());
    ASSERT_TRUE(filter.has_held());
    HeldAnswer first = filter.take_held();
    EXPECT_EQ(first.status, 'T');
    EXPECT_EQ(first.tags, std::vector<std::string>{"UPDATE 1"});
    EXPECT_EQ(first.sqlstate, "");
    ASSERT_TRUE(filter.has_held());
    HeldAnswer second = filter.take_held();
    EXPECT_EQ(second.status, 'I');
    EXPECT_EQ(second.tags, std::vector<std::string>{"COMMIT"});
    EXPECT_FALSE(filter.has_held());
  }
}

TEST(ReplyFilter, AHeldAnswerKeepsItsErrorForTheClientAndReportsItsSqlstate) {
  // An earlier unit still owed passes untouched; the mirrored unit fails.
  std::string earlier = kRow + kReady;
  std::string failed = kError + message('Z', "E");
  ReplyFilter filter;
  filter.hold_ready(1);
  EXPECT_EQ(relay(filter, earlier + failed, {2, 30}), earlier + kError);
  HeldAnswer answer = filter.take_held();
  EXPECT_EQ(answer.status, 'E');
  EXPECT_TRUE(answer.tags.empty());
  EXPECT_EQ(answer.sqlstate, "42P01");
}

TEST(ReplyFilter, AKeptAnswerGoesNowhereButReportsItsRowsAndTag) {
  // cutover's own query (two rows), then the client's next answer, which passes untouched.
  const std::string first = message('D', "first");
  const std::string second = message('D', "second");
  const std::string own = first + second + message('C', std::string("SELECT 2\0", 9)) + kReady;
  const std::string next = kRow + kReady;
  for (size_t split = 0; split <= own.size() + next.size(); ++split) {
    ReplyFilter filter;
    filter.keep_answer(0);
    // Rows captured, as run_on_old() asks.
    const std::string out = relay(filter, own + next, {split}, "ZCED");
    EXPECT_EQ(out, next) << "split at " << split;
    ASSERT_TRUE(filter.has_held()) << "split at " << split;
    HeldAnswer answer = filter.take_held();
    EXPECT_EQ(answer.data_rows, (std::vector<std::string>{"first", "second"}));
    EXPECT_EQ(answer.tags, std::vector<std::string>{"SELECT 2"});
    EXPECT_EQ(answer.status, 'I');
  }
}

TEST(ReplyFilter, AComparedAnswerGoesNowhereButReportsItsDigest) {
  // A well-formed DataRow with one text column.
  auto row = [](const std::string& value) {
    std::string body("\0\1", 2);
    body += std::string("\0\0\0", 3) + static_cast<char>(value.size()) + value;
    return body;
  };
  const std::string read = message('D', row("a")) + message('D', row("b")) +
                           message('C', std::string("SELECT 2\0", 9)) + kReady;
  const std::string next = kRow + kReady;
  verify::RowSetHasher expected;
  expected.add_data_row(row("b"));  // a set digest: the order does not matter
  expected.add_data_row(row("a"));
  for (size_t split = 0; split <= read.size() + next.size(); ++split) {
    ReplyFilter filter;
    filter.compare_answer(0);
    const std::string out = relay(filter, read + next, {split}, "ZCED");
    EXPECT_EQ(out, next) << "split at " << split;
    ASSERT_TRUE(filter.has_held()) << "split at " << split;
    HeldAnswer answer = filter.take_held();
    EXPECT_TRUE(answer.data_rows.empty());
    EXPECT_EQ(answer.rows, 2u);
    EXPECT_EQ(answer.rows_digest, expected.digest());
    EXPECT_EQ(answer.tags, std::vector<std::string>{"SELECT 2"});
  }
}

}  // namespace
}  // namespace cutover::proxy

namespace cutover::proxy {
namespace {

// A batch going to old in pieces: its first answers pass to the client while they are noted;
// once its Sync came, hold_ready() holds its ReadyForQuery and reports the whole answer.
TEST(ReplyFilter, AnObservedUnitHeldAtItsSyncReportsEveryTagItsPiecesGot) {
  const std::string first = complete("INSERT 0 1") + complete("INSERT 0 1");
  const std::string rest = complete("INSERT 0 1") + kReady;
  ReplyFilter filter;
  filter.observe(0);
  EXPECT_EQ(relay(filter, first, {3}, "ZCED"), first);  // nothing taken out
  filter.hold_ready(0);                                 // the Sync went to old
  EXPECT_EQ(relay(filter, rest, {5}, "ZCED"), complete("INSERT 0 1"));
  ASSERT_TRUE(filter.has_held());
  EXPECT_EQ(filter.take_held().tags, std::vector<std::string>(3, "INSERT 0 1"));
  EXPECT_FALSE(filter.engaged());
}

// Never held (the batch was a read): it ends with its unit, reporting nothing.
TEST(ReplyFilter, AnObservedUnitNeverHeldEndsWithItsReadyForQuery) {
  const std::string answer = kRow + complete("SELECT 1") + kReady;
  ReplyFilter filter;
  filter.observe(0);
  EXPECT_EQ(relay(filter, answer, {7}, "ZCED"), answer);
  EXPECT_FALSE(filter.has_held());
  EXPECT_FALSE(filter.engaged());
}

}  // namespace
}  // namespace cutover::proxy

namespace cutover::proxy {
namespace {

// A RowDescription or DataRow of `columns`, each a name (T) or a value (D; nullopt: NULL).
std::string columns_message(char type, const std::vector<std::optional<std::string>>& columns) {
  std::string body{static_cast<char>(columns.size() >> 8), static_cast<char>(columns.size())};
  for (const auto& column : columns) {
    if (type == 'T') {
      body.append(*column).push_back('\0');
      body.append(18, '\x01');
    } else if (!column) {
      body.append("\xff\xff\xff\xff", 4);
    } else {
      const auto n = static_cast<uint32_t>(column->size());
      for (int shift = 24; shift >= 0; shift -= 8) body.push_back(static_cast<char>(n >> shift));
      body.append(*column);
    }
  }
  return message(type, body);
}

// A write mirrored by its effect returns its keys to cutover as the last column, after the
// client's RETURNING: the client gets its own columns, every split of the stream alike, and
// the answer reports the keys as one-column rows.
TEST(ReplyFilter, TakesTheLastColumnOutOfEachRowAtEverySplit) {
  const std::string sent = columns_message('T', {"id", "note", "json_build_object"}) +
                           columns_message('D', {"7", std::nullopt, R"({"id":7})"}) +
                           columns_message('D', {"9", "x", R"({"id":9})"}) +
                           message('C', std::string("DELETE 2\0", 9)) + kReady;
  const std::string seen =
      columns_message('T', {"id", "note"}) + columns_message('D', {"7", std::nullopt}) +
      columns_message('D', {"9", "x"}) + message('C', std::string("DELETE 2\0", 9));
  for (size_t split = 0; split <= sent.size(); ++split) {
    ReplyFilter filter;
    filter.hold_ready(0, {.taken = ReplyFilter::Taken::kLastColumn});
    EXPECT_EQ(relay(filter, sent, {split}, "ZCEDT"), seen) << "split at " << split;
    ASSERT_TRUE(filter.has_held());
    const HeldAnswer held = filter.take_held();
    EXPECT_EQ(held.rows, 2u);  // the client's rows, digested as the client got them
    ASSERT_EQ(held.data_rows.size(), 2u);
    EXPECT_EQ(message('D', held.data_rows[1]), columns_message('D', {R"({"id":9})"}));
  }
}

// An extended batch: each Execute and Describe answer is taken from as its own statement asks
// (nothing; the rows, its RowDescription becoming NoData; the last column), and the rows taken
// are counted per Execute.
TEST(ReplyFilter, TakesFromEachExecuteAndDescribeOfABatchAsItsStatementAsksAtEverySplit) {
  const std::string no_data = message('n');
  const std::string sent =
      kBindComplete + no_data + complete("INSERT 0 1") + kBindComplete +
      columns_message('T', {"json_build_object"}) + columns_message('D', {R"({"id":1})"}) +
      columns_message('D', {R"({"id":2})"}) + complete("UPDATE 2") + kBindComplete +
      columns_message('T', {"id", "json_build_object"}) +
      columns_message('D', {"7", R"({"id":7})"}) + complete("DELETE 1") + kReady;
  const std::string seen = kBindComplete + no_data + complete("INSERT 0 1") + kBindComplete +
                           no_data + complete("UPDATE 2") + kBindComplete +
                           columns_message('T', {"id"}) + columns_message('D', {"7"}) +
                           complete("DELETE 1");
  using Taken = ReplyFilter::Taken;
  const std::vector<Taken> answers = {Taken::kNothing, Taken::kRows, Taken::kLastColumn};
  for (size_t split = 0; split <= sent.size(); ++split) {
    ReplyFilter filter;
    filter.hold_ready(0, {.executes = answers, .describes = answers});
    EXPECT_EQ(relay(filter, sent, {split}, "ZCEDT"), seen) << "split at " << split;
    ASSERT_TRUE(filter.has_held());
    const HeldAnswer held = filter.take_held();
    EXPECT_EQ(held.taken_per_execute, (std::vector<size_t>{0, 2, 1}));
    ASSERT_EQ(held.data_rows.size(), 3u);
    EXPECT_EQ(message('D', held.data_rows[1]), columns_message('D', {R"({"id":2})"}));
    EXPECT_EQ(message('D', held.data_rows[2]), columns_message('D', {R"({"id":7})"}));
    EXPECT_EQ(held.tags, (std::vector<std::string>{"INSERT 0 1", "UPDATE 2", "DELETE 1"}));
  }
}

}  // namespace
}  // namespace cutover::proxy
