// The mirror-failure journal: an append-only log of writes the mirror did not take, durable
// (fsynced) before the client is acknowledged, so no acknowledged write is ever only in memory.
// Segments of records, each framed by a marker, its length and a CRC-32C over both, so a torn
// tail (a crash mid-write) and a corrupt record are told apart, reported, and never replayed.
// Not the replay itself nor the decision to journal (the proxy's mirroring does that).
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <filesystem>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
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

// Appends records with group commit: append() is cheap; commit(sequence) returns once that
// record is on disk, and one write + fdatasync covers every record appended before it, from
// any thread. Opening truncates a torn tail left by a crash (those records were never
// acknowledged) and continues the sequence.
//
// A sequence can be reserved before its record exists (reserve(), then fill() or cancel()):
// records reach the disk in sequence order, so a writer that reserves before the source of
// truth commits gets a place in the journal no later than any transaction that commit unblocks.
class JournalWriter {
 public:
  struct Options {
    uint64_t segment_bytes = uint64_t{64} << 20;  // a full segment is closed, a new one started
  };
  JournalWriter(std::filesystem::path dir, Options options);
  JournalWriter(const JournalWriter&) = delete;
  JournalWriter& operator=(const JournalWriter&) = delete;
  ~JournalWriter();

  // Assigns the record's sequence, queues it, and returns the sequence. Thread-safe.
  uint64_t append(JournalRecord record);
  // A sequence for a record to come. Every reservation must be filled or cancelled: records
  // after it wait for it. Thread-safe, like fill() and cancel().
  uint64_t reserve();
  void fill(uint64_t sequence, JournalRecord record);
  void cancel(uint64_t sequence);
  // How far commit() takes records: into the file (they survive the process, not the machine)
  // or, synced, onto the disk.
  enum class Durability { kSynced, kWritten };
  // Blocks until every record up to `sequence` is durable (or only written). Throws
  // std::system_error when the disk refused the write that held it (the caller must then not
  // acknowledge the write): that write's records are given up (a record is never half on
  // disk, the segment is cut back) and later ones are tried afresh, so writing resumes by
  // itself once space returns.
  void commit(uint64_t sequence, Durability durability = Durability::kSynced);
  // False from a failed write until one succeeds or, at most once a second, a probe of the
  // directory (a file the size of a large record, written and synced) shows space again.
  bool writable();

  uint64_t durable_sequence() const;
  uint64_t written_sequence() const;  // every record up to it is in the file
  uint64_t syncs() const;             // fdatasync calls so far (group commit keeps this low)

  // Once every record up to `through` is replayed: starts an empty segment (whose name keeps
  // the sequence going across restarts) and deletes the others. False, with nothing done, when
  // records after `through` exist or are on their way.
  bool retire_through(uint64_t through);
  // Deletes the segments, but the one being written, that hold only records up to `through`.
  void retire_segments_through(uint64_t through);

 private:
  struct Reserved {
    bool resolved = false;
    std::string bytes{};  // empty when cancelled
  };
  void resolve(uint64_t sequence, std::string bytes);
  void open_segment(uint64_t first_sequence);
  void write_out(const std::string& bytes, uint64_t first_sequence, bool sync);
  void cut_back();

  const std::filesystem::path dir_;
  const Options options_;
  mutable std::mutex mutex_;
  std::condition_variable durable_changed_;
  std::string pending_;  // encoded records not yet written, in sequence order
  uint64_t next_sequence_ = 1;
  uint64_t pending_last_ = 0;              // every sequence up to this is in pending_ or on disk
  std::map<uint64_t, Reserved> reserved_;  // after pending_last_, not all resolved
  uint64_t durable_ = 0;                   // synced
  uint64_t written_ = 0;                   // in the file (written_ >= durable_)
  bool syncing_ = false;
  bool failing_ = false;  // the last write failed
  std::chrono::steady_clock::time_point last_probe_{};
  std::deque<std::pair<uint64_t, uint64_t>> lost_;  // sequences of failed writes (latest kept)
  uint64_t syncs_ = 0;
  int fd_ = -1;
  uint64_t segment_size_ = 0;
};

}  // namespace cutover::verify
