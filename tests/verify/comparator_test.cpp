// The inline comparator: which differences count as what, the mismatch log's lines (one per
// mismatch, no values), the counts, and a full queue dropping rather than blocking.
#include "verify/comparator.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>
#include <sstream>

namespace cutover::verify {
namespace {

WritePair pair_of(std::vector<std::string> old_tags, std::vector<std::string> new_tags) {
  WritePair pair{.fingerprint = 0xabc, .connection_id = 7, .unix_ms = 1700000000000};
  pair.old_side.tags = std::move(old_tags);
  pair.new_side.tags = std::move(new_tags);
  return pair;
}

TEST(ComparatorTest, DifferencesAreToldApart) {
  EXPECT_FALSE(compare(pair_of({"UPDATE 1"}, {"UPDATE 1"})).has_value());
  EXPECT_EQ(compare(pair_of({"UPDATE 1"}, {"UPDATE 0"})), MismatchKind::kTags);
  WritePair rows = pair_of({"UPDATE 1"}, {"UPDATE 1"});
  rows.old_side.rows = rows.new_side.rows = 1;
  rows.new_side.rows_digest.low = 1;
  EXPECT_EQ(compare(rows), MismatchKind::kRows);
  rows.nondeterministic = true;
  EXPECT_EQ(compare(rows), MismatchKind::kNonDeterministic);
}

TEST(ComparatorTest, EachMismatchIsOneLineInTheLogAndCounted) {
  const auto dir =
      std::filesystem::temp_directory_path() / ("cutover-comparator-" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  const auto log = dir / "sub" / "mismatches.jsonl";
  int called = 0;
  {
    Comparator comparator(
        log, 100, [&](const WritePair& p, MismatchKind kind, const std::vector<RowDifference>&) {
          ++called;
          EXPECT_EQ(p.fingerprint, 0xabcu);
          EXPECT_EQ(kind, MismatchKind::kTags);
        });
    EXPECT_TRUE(comparator.submit(pair_of({"INSERT 0 1"}, {"INSERT 0 1"})));
    EXPECT_TRUE(comparator.submit(pair_of({"UPDATE 1"}, {"UPDATE 0"})));
    EXPECT_TRUE(comparator.submit(pair_of({"DELETE 2"}, {"DELETE 2"})));
  }  // the destructor compares what is queued
  EXPECT_EQ(called, 1);
  std::ifstream in(log);
  std::stringstream text;
  text << in.rdbuf();
  EXPECT_EQ(text.str(),
            "{\"unix_ms\":1700000000000,\"conn\":7,\"fingerprint\":\"0000000000000abc\","
            "\"kind\":\"tags\",\"old\":{\"tags\":[\"UPDATE 1\"],\"rows\":0,\"rows_hash\":"
            "\"00000000000000000000000000000000\"},\"new\":{\"tags\":[\"UPDATE 0\"],\"rows\":0,"
            "\"rows_hash\":\"00000000000000000000000000000000\"}}\n");
  std::filesystem::remove_all(dir);
}

TEST(ComparatorTest, AFullQueueDropsAndCountsInsteadOfWaiting) {
  const auto log = std::filesystem::temp_directory_path() /
                   ("cutover-comparator-full-" + std::to_string(::getpid()) + ".jsonl");
  Comparator comparator(log, 0, nullptr);
  EXPECT_FALSE(comparator.submit(pair_of({"UPDATE 1"}, {"UPDATE 0"})));
  EXPECT_EQ(comparator.dropped(), 1u);
  std::filesystem::remove(log);
}

TEST(ComparatorTest, AnUnwritableLogIsAnError) {
  EXPECT_THROW(Comparator("/proc/cutover-cannot-be-here/m.jsonl", 10, nullptr), std::exception);
}

}  // namespace
}  // namespace cutover::verify
