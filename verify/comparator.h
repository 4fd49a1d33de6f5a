// The inline comparator: every mirrored write's two answers (command tags, returned rows as a
// set digest, verify/row_hash.h, and what the write did to each row it changed,
// verify/row_effects.h) are compared off the client's path, on a thread of its own fed through
// a bounded queue. A mismatch becomes a JSON line in the mismatch log (fingerprint, both
// sides' tags, row counts and digests, the rows that differ by key and their columns, time,
// connection; never values other than keys) and a count.
// Not what produces the pairs (the proxy's mirroring) nor the background checksum jobs.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <deque>
#include <filesystem>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "verify/row_effects.h"
#include "verify/row_hash.h"

namespace cutover::verify {

// What one database answered to a mirrored write.
struct WriteAnswer {
  std::vector<std::string> tags{};  // CommandComplete tags, in order
  uint64_t rows = 0;                // DataRows it returned (RETURNING)
  Digest rows_digest{};             // RowSetHasher over them
  RowEffects effects{};             // the rows it changed, where cutover asked (else none)
  friend bool operator==(const WriteAnswer&, const WriteAnswer&) = default;
};

struct WritePair {
  uint64_t fingerprint = 0;  // the statement's (router/classify.h)
  uint64_t connection_id = 0;
  int64_t unix_ms = 0;
  bool nondeterministic = false;  // it calls something cutover could not pin
  // A read that ran on old for the client and on new only to be compared (shadow reads): a
  // mismatch may also be a write that committed between the two.
  bool shadow_read = false;
  std::vector<std::string> tables{};  // the tables the statement names, as written
  std::string effect_table{};         // whose rows the effects are, as written ("t", "s.t")
  WriteAnswer old_side{};
  WriteAnswer new_side{};
};

enum class MismatchKind : uint8_t {
  kTags,              // different command tags (say UPDATE 1 against UPDATE 0)
  kRows,              // same tags, different returned rows
  kEffects,           // same answers, but the rows changed or the values stored differ
  kNonDeterministic,  // differs, but the statement calls random() or the like
};
std::string_view kind_name(MismatchKind kind);

// nullopt when both sides answered the same.
std::optional<MismatchKind> compare(const WritePair& pair);
// The rows of the pair whose effects differ, at most kReportedRows (verify/row_effects.h).
constexpr size_t kReportedRows = 10;
std::vector<RowDifference> row_differences(const WritePair& pair);
// The mismatch log's line for a pair (JSON, no trailing newline); `rows`: row_differences().
std::string mismatch_line(const WritePair& pair, MismatchKind kind,
                          const std::vector<RowDifference>& rows);

// What journal replay could not settle by itself: it goes to the mismatch log too (kind
// "journal_<what>"), so everything unresolved between old and new is in one place.
struct JournalReport {
  enum class What : uint8_t {
    kMayHaveApplied,  // the mirror may or may not have applied it: verify and repair
    kRefused,         // the mirror refused it on replay
    kCorrupt,         // bytes in the journal that are no valid record
    // cutover stopped between journaling a transaction and old's answer to its COMMIT, and
    // old cannot say whether it committed: new may lack it, or it may never have happened
    kCommitUnknown,
  };
  What what = What::kMayHaveApplied;
  int64_t unix_ms = 0;  // when it was reported
  uint64_t sequence = 0;
  uint64_t connection_id = 0;
  uint64_t fingerprint = 0;
  std::string database{};
  std::string user{};
  std::vector<std::string> tables{};  // what the record writes, where it could be parsed
  std::vector<std::string> keys{};    // rows it names by primary key: "t(id)=(42)", where known
  std::string detail{};               // the mirror's error, or where the corrupt bytes are
};
std::string journal_report_line(const JournalReport& report);
// "journal_may_have_applied", "journal_refused", "journal_corrupt" or "journal_commit_unknown":
// the kind in both logs.
std::string_view journal_report_kind(JournalReport::What what);

class Comparator {
 public:
  // With the pair's row_differences().
  using OnMismatch =
      std::function<void(const WritePair&, MismatchKind, const std::vector<RowDifference>&)>;
  // Appends mismatches to `mismatch_log` (its directory is created); `on_mismatch` is called on
  // the comparator's thread. Throws std::system_error when the log cannot be opened.
  Comparator(const std::filesystem::path& mismatch_log, size_t capacity, OnMismatch on_mismatch);
  ~Comparator();  // compares what is queued, then stops
  Comparator(const Comparator&) = delete;
  Comparator& operator=(const Comparator&) = delete;

  // Queues a pair without waiting; false (counted as dropped) when the queue is full.
  bool submit(WritePair pair);

  uint64_t pairs() const { return pairs_.load(); }
  uint64_t mismatches() const { return mismatches_.load(); }
  uint64_t dropped() const { return dropped_.load(); }

 private:
  void run();

  const size_t capacity_;
  const OnMismatch on_mismatch_;
  std::FILE* log_ = nullptr;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<WritePair> queue_;
  bool stopping_ = false;
  std::atomic<uint64_t> pairs_{0};
  std::atomic<uint64_t> mismatches_{0};
  std::atomic<uint64_t> dropped_{0};
  std::thread worker_;  // last: starts once everything above exists
};

}  // namespace cutover::verify
