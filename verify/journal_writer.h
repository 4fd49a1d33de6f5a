// The mirror-failure journal's writer: appends records in sequence order with group commit,
// gives up a write the disk refuses, and retires what replay no longer needs. Not the format
// nor the reading (journal.h).
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <filesystem>
#include <map>
#include <mutex>
#include <string>
#include <utility>

#include "verify/journal.h"

namespace cutover::verify {

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
