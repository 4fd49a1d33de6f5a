// The mirror-failure journal: an append-only log of writes the mirror did not take, durable
// (fsynced) before the client is acknowledged, so no acknowledged write is ever only in memory.
// Segments of records, each framed by a marker, its length and a CRC-32C over both, so a torn
// tail (a crash mid-write) and a corrupt record are told apart, reported, and never replayed.
// Not the replay itself nor the decision to journal (the proxy's mirroring does that).
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace cutover::verify {

struct JournalRecord {
  enum class Outcome : uint8_t {
    kDidNotApply = 1,     // the mirror refused it or was unreachable: replay it blindly
    kMayHaveApplied = 2,  // the mirror timed out: report for verification and repair
    // Markers: whether an intent (below) must be replayed (the source of truth committed it
    // and the mirror lacks it) or not (not committed, or the mirror has it); no unit.
    kReplay = 3,
    kSkip = 4,
  };
  uint64_t sequence = 0;  // assigned by the writer, increasing across segments
  Outcome outcome = Outcome::kDidNotApply;
  int64_t unix_ms = 0;  // when the write ran on the source of truth
  uint64_t connection_id = 0;
  uint64_t fingerprint = 0;  // the statement's fingerprint (router/classify.h)
  // The mirror's id for the transaction (txid_current_if_assigned()), when it was known before
  // the answer was lost: replay asks the mirror whether it committed. 0: unknown.
  uint64_t mirror_transaction_id = 0;
  std::string database{};  // where the write belongs
  std::string user{};
  std::string unit{};  // the unit as the mirror should run it: whole protocol messages
  // Written before the source of truth was asked to commit (an intent), so a commit that
  // cannot be journaled is never sent. Whether it must be replayed is known to the process
  // that wrote it, or said by a marker record after it; after a crash, replay asks the source
  // what became of `source_transaction_id` (0: unknown, the record is then reported) and, for
  // a may-have-applied one, the mirror what became of `mirror_transaction_id`.
  bool intent = false;
  uint64_t source_transaction_id = 0;
  uint64_t resolves = 0;  // of a marker: the intent's sequence
  bool is_marker() const { return outcome == Outcome::kReplay || outcome == Outcome::kSkip; }
  friend bool operator==(const JournalRecord&, const JournalRecord&) = default;
};

// Something found while reading that is not a whole, valid record.
struct JournalProblem {
  enum class Kind : uint8_t {
    kTornTail,  // the last segment ends inside a record: a write that never became durable
    kCorrupt,   // a record whose CRC does not match, or bytes that are no record at all
  };
  Kind kind = Kind::kCorrupt;
  std::filesystem::path segment{};
  uint64_t offset = 0;  // where the bad bytes start in the segment
  uint64_t bytes = 0;   // how many bytes were skipped
};

struct JournalContents {
  std::vector<JournalRecord> records;  // the valid ones, in order
  std::vector<JournalProblem> problems;
};

// Reads every segment of `dir` (a missing directory is an empty journal). With `after`, skips
// the segments that hold only records up to that sequence (and their problems).
JournalContents read_journal(const std::filesystem::path& dir, uint64_t after = 0);

// Adds what one segment's bytes hold to `out`; `last` says whether it is the newest segment
// (only there can a record be cut short by a crash). `path` names it in problems.
void scan_segment(std::string_view data, const std::filesystem::path& path, bool last,
                  JournalContents& out);
// A record as a segment holds it (its sequence as given).
std::string encode_record(const JournalRecord& record);

// The journal's segment files in `dir`, oldest first, and the sequence a segment's name says
// its first record has (journal-<sequence>.seg).
std::vector<std::filesystem::path> journal_segments(const std::filesystem::path& dir);
uint64_t first_sequence_of(const std::filesystem::path& segment);

}  // namespace cutover::verify
