// The mirror-failure journal on a real filesystem: records come back as written, across
// segments and reopening; group commit makes one fdatasync serve many records; a torn tail is
// reported and cut on reopen; a corrupt record is reported and skipped, never returned.
#include "verify/journal.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <boost/crc.hpp>
#include <fstream>
#include <thread>

#include "tests/harness/small_disk.h"
#include "verify/journal_writer.h"
#include "verify/replay_checkpoint.h"

namespace cutover::verify {
namespace {

namespace fs = std::filesystem;

class JournalTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (fs::temp_directory_path() / "cutover-journal-XXXXXX").string();
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    dir = pattern;
  }
  void TearDown() override { fs::remove_all(dir); }

  static JournalRecord record(int n) {
    return {
        .outcome =
            n % 2 ? JournalRecord::Outcome::kDidNotApply : JournalRecord::Outcome::kMayHaveApplied,
        .unix_ms = 1'700'000'000'000 + n,
        .connection_id = static_cast<uint64_t>(n % 3),
        .fingerprint = 0xabcdef00u + static_cast<uint64_t>(n),
        .database = "app",
        .user = "writer",
        .unit = std::string("Q\0\0\0\x1d", 5) + "insert into t values (" + std::to_string(n) + ")"};
  }
  // Writes records 1..n, in one commit or each in its own.
  void write(int n, JournalWriter::Options options = {}, bool commit_each = false) {
    JournalWriter writer(dir, options);
    uint64_t last = 0;
    for (int i = 1; i <= n; ++i) {
      last = writer.append(record(i));
      if (commit_each) writer.commit(last);
    }
    writer.commit(last);
  }
  fs::path only_segment() const {
    auto it = fs::directory_iterator(dir);
    return it->path();
  }

  fs::path dir;
};

TEST_F(JournalTest, RecordsComeBackAsWrittenWithIncreasingSequences) {
  write(3);
  JournalContents got = read_journal(dir);
  ASSERT_EQ(got.records.size(), 3u);
  EXPECT_TRUE(got.problems.empty());
  for (int i = 1; i <= 3; ++i) {
    JournalRecord want = record(i);
    want.sequence = static_cast<uint64_t>(i);
    EXPECT_EQ(got.records[static_cast<size_t>(i - 1)], want);
  }
}

TEST_F(JournalTest, OneFdatasyncServesEveryRecordAppendedBeforeTheCommit) {
  JournalWriter writer(dir, {});
  uint64_t last = 0;
  for (int i = 1; i <= 10; ++i) last = writer.append(record(i));
  writer.commit(last);
  EXPECT_EQ(writer.syncs(), 1u);
  EXPECT_EQ(writer.durable_sequence(), 10u);
  writer.commit(5);  // already durable: no more I/O
  EXPECT_EQ(writer.syncs(), 1u);
}

TEST_F(JournalTest, ConcurrentWritersLoseNothing) {
  {
    JournalWriter writer(dir, {.segment_bytes = 4096});
    std::vector<std::thread> threads;
    for (int t = 0; t < 8; ++t) {
      threads.emplace_back([&writer, t] {
        for (int i = 0; i < 50; ++i) writer.commit(writer.append(record(t * 100 + i)));
      });
    }
    for (auto& thread : threads) thread.join();
    EXPECT_EQ(writer.durable_sequence(), 400u);
  }
  JournalContents got = read_journal(dir);
  ASSERT_EQ(got.records.size(), 400u);
  EXPECT_TRUE(got.problems.empty());
  for (size_t i = 0; i < got.records.size(); ++i) EXPECT_EQ(got.records[i].sequence, i + 1);
}

TEST_F(JournalTest, SegmentsRollOverAndReopeningContinuesTheSequence) {
  write(20, {.segment_bytes = 300}, true);
  write(5, {.segment_bytes = 300}, true);
  EXPECT_GT(std::distance(fs::directory_iterator(dir), fs::directory_iterator()), 5);
  JournalContents got = read_journal(dir);
  ASSERT_EQ(got.records.size(), 25u);
  EXPECT_EQ(got.records.back().sequence, 25u);
  EXPECT_EQ(got.records.back().unit, record(5).unit);
}

TEST_F(JournalTest, ATornTailIsReportedThenCutWhenTheWriterReopens) {
  write(3);
  fs::path segment = only_segment();
  const auto whole = fs::file_size(segment);
  fs::resize_file(segment, whole - 7);  // the crash hit the last record's write
  JournalContents torn = read_journal(dir);
  ASSERT_EQ(torn.records.size(), 2u);
  ASSERT_EQ(torn.problems.size(), 1u);
  EXPECT_EQ(torn.problems[0].kind, JournalProblem::Kind::kTornTail);
  {
    JournalWriter writer(dir, {});
    EXPECT_EQ(writer.append(record(9)), 3u);  // record 3 was never durable, so never acknowledged
    writer.commit(3);
  }
  JournalContents after = read_journal(dir);
  EXPECT_TRUE(after.problems.empty());
  ASSERT_EQ(after.records.size(), 3u);
  EXPECT_EQ(after.records[2].unit, record(9).unit);
}

TEST_F(JournalTest, ACorruptRecordIsReportedAndSkippedNeverReturned) {
  write(3);
  fs::path segment = only_segment();
  const auto record_size = fs::file_size(segment) / 3;  // the three records are the same size
  {
    std::fstream file(segment, std::ios::in | std::ios::out | std::ios::binary);
    file.seekp(static_cast<std::streamoff>(record_size + record_size / 2));
    file.put('\x7f');  // one byte inside record 2's payload
  }
  JournalContents got = read_journal(dir);
  ASSERT_EQ(got.records.size(), 2u);
  EXPECT_EQ(got.records[0].sequence, 1u);
  EXPECT_EQ(got.records[1].sequence, 3u);
  ASSERT_EQ(got.problems.size(), 1u);
  EXPECT_EQ(got.problems[0].kind, JournalProblem::Kind::kCorrupt);
  EXPECT_EQ(got.problems[0].offset, record_size);
  EXPECT_EQ(got.problems[0].bytes, record_size);
}

TEST_F(JournalTest, AMissingDirectoryIsAnEmptyJournal) {
  JournalContents got = read_journal(dir / "never-created");
  EXPECT_TRUE(got.records.empty());
  EXPECT_TRUE(got.problems.empty());
}

// A place reserved first reaches the disk first, even when a later record is committed before
// the reserved one exists: the later commit waits for it.
TEST_F(JournalTest, AReservedPlaceKeepsItsOrderAheadOfLaterRecords) {
  JournalWriter writer(dir, {});
  const uint64_t first = writer.reserve();
  const uint64_t second = writer.append(record(2));
  EXPECT_LT(first, second);
  std::thread committer([&] { writer.commit(second); });
  writer.fill(first, record(1));
  committer.join();
  EXPECT_EQ(writer.durable_sequence(), second);
  JournalContents got = read_journal(dir);
  ASSERT_EQ(got.records.size(), 2u);
  EXPECT_EQ(got.records[0].unit, record(1).unit);
  EXPECT_EQ(got.records[0].sequence, first);
  EXPECT_EQ(got.records[1].unit, record(2).unit);
}

TEST_F(JournalTest, ACancelledPlaceLeavesOnlyAGapInTheSequence) {
  JournalWriter writer(dir, {});
  const uint64_t given_back = writer.reserve();
  const uint64_t kept = writer.append(record(2));
  writer.cancel(given_back);
  writer.commit(kept);
  JournalContents got = read_journal(dir);
  ASSERT_EQ(got.records.size(), 1u);
  EXPECT_EQ(got.records[0].sequence, kept);
  EXPECT_TRUE(got.problems.empty());
}

TEST_F(JournalTest, RetiringEmptiesTheJournalButTheSequenceGoesOn) {
  {
    JournalWriter writer(dir, {});
    const uint64_t last = writer.append(record(1));
    writer.commit(writer.append(record(2)));
    EXPECT_FALSE(writer.retire_through(last));  // record 2 is not replayed yet
    EXPECT_TRUE(writer.retire_through(2));
    EXPECT_TRUE(read_journal(dir).records.empty());
  }
  JournalWriter reopened(dir, {});
  EXPECT_EQ(reopened.durable_sequence(), 2u);
  const uint64_t next = reopened.append(record(3));
  reopened.commit(next);
  EXPECT_EQ(next, 3u);
  ASSERT_EQ(read_journal(dir).records.size(), 1u);
}

TEST_F(JournalTest, ReadingAfterASequenceSkipsTheSegmentsBeforeIt) {
  write(4, {.segment_bytes = 60}, true);  // each record in a segment of its own
  JournalContents got = read_journal(dir, 2);
  ASSERT_EQ(got.records.size(), 2u);
  EXPECT_EQ(got.records[0].sequence, 3u);
  EXPECT_EQ(read_journal(dir, 0).records.size(), 4u);
}

TEST_F(JournalTest, TheReplayCheckpointIsKeptAndAnUnreadableOneRefused) {
  EXPECT_EQ(read_checkpoint(dir), (ReplayCheckpoint{}));
  write_checkpoint(dir, {.through = 41, .in_doubt = 42});
  EXPECT_EQ(read_checkpoint(dir), (ReplayCheckpoint{.through = 41, .in_doubt = 42}));
  write_checkpoint(dir, {.through = 42, .in_doubt = 0});
  EXPECT_EQ(read_checkpoint(dir), (ReplayCheckpoint{.through = 42, .in_doubt = 0}));
  std::ofstream(dir / "replayed") << "through=4x in_doubt=0\n";
  EXPECT_THROW(read_checkpoint(dir), std::runtime_error);
}

}  // namespace
}  // namespace cutover::verify

namespace cutover::verify {
namespace {

TEST_F(JournalTest, IntentsAndMarkersComeBackAsWritten) {
  JournalRecord intent = record(1);
  intent.intent = true;
  intent.source_transaction_id = 4242;
  const JournalRecord marker{.outcome = JournalRecord::Outcome::kSkip, .resolves = 1};
  {
    JournalWriter writer(dir, {});
    writer.append(intent);
    writer.commit(writer.append(marker));
  }
  const JournalContents got = read_journal(dir);
  ASSERT_EQ(got.records.size(), 2u);
  intent.sequence = 1;
  EXPECT_EQ(got.records[0], intent);
  EXPECT_FALSE(got.records[0].is_marker());
  EXPECT_TRUE(got.records[1].is_marker());
  EXPECT_EQ(got.records[1].resolves, 1u);
  EXPECT_EQ(got.records[1].outcome, JournalRecord::Outcome::kSkip);
}

// A record written before intents existed ends after its unit: it reads back as written after
// old's commit (no intent), so a journal left by an earlier version replays as it would have.
TEST_F(JournalTest, ARecordOfAnEarlierVersionReadsAsNoIntent) {
  std::string bytes = encode_record(record(1));
  constexpr size_t kHeader = 12, kIntentFields = 17;
  std::string payload = bytes.substr(kHeader, bytes.size() - kHeader - kIntentFields);
  std::string length;
  for (int shift = 24; shift >= 0; shift -= 8)
    length.push_back(char((payload.size() >> shift) & 0xff));
  boost::crc_optimal<32, 0x1EDC6F41, 0xFFFFFFFF, 0xFFFFFFFF, true, true> crc;
  crc.process_bytes(length.data(), length.size());
  crc.process_bytes(payload.data(), payload.size());
  std::string old_format = "JRNL" + length;
  for (int shift = 24; shift >= 0; shift -= 8)
    old_format.push_back(char((crc.checksum() >> shift) & 0xff));
  old_format += payload;
  JournalContents got;
  scan_segment(old_format, "old.seg", true, got);
  ASSERT_EQ(got.records.size(), 1u) << got.problems.size();
  EXPECT_FALSE(got.records[0].intent);
  EXPECT_EQ(got.records[0].unit, record(1).unit);
}

// The disk refuses a write: that write's records are given up (nothing of them stays in the
// segment), the writer says it cannot write, and once space returns it writes again.
TEST_F(JournalTest, AFailedWriteIsGivenUpAndWritingResumesWhenSpaceReturns) {
  testing::SmallDisk disk;
  if (!disk.mounted()) GTEST_SKIP() << "mounting a tmpfs needs root";
  JournalWriter writer(disk / "journal", {});
  writer.commit(writer.append(record(1)));
  ASSERT_GT(disk.fill(), 0u);
  JournalRecord large = record(2);
  large.unit += std::string(200'000, 'x');  // more than the segment's last page holds
  const uint64_t lost = writer.append(large);
  EXPECT_THROW(writer.commit(lost), std::system_error);
  EXPECT_FALSE(writer.writable());  // its probe finds no space either
  disk.free();
  // Probes are a second apart: writable again within two.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
  while (!writer.writable() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_TRUE(writer.writable());
  writer.commit(writer.append(record(3)));
  const JournalContents got = read_journal(disk / "journal");
  EXPECT_TRUE(got.problems.empty());
  ASSERT_EQ(got.records.size(), 2u);
  EXPECT_EQ(got.records[0].sequence, 1u);
  EXPECT_EQ(got.records[1].sequence, 3u);
  EXPECT_EQ(got.records[1].unit, record(3).unit);
}

}  // namespace
}  // namespace cutover::verify
