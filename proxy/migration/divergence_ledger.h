// The migration's open divergences: every difference between old and new that cutover found or
// could not rule out — a mirrored write or shadow read whose answers differed, a comparison
// dropped because the comparator fell behind, a journal record new could not take or may have
// applied, a corrupt journal record — kept until verification or repair closes it. Promotion
// waits for none to be open (router/transitions.h), whatever time passed.
// Durable: an append-only file of JSON lines ("open" and "close" records, each fsynced before
// the call returns), read back whole at start, so a restart forgets nothing. One open item per
// kind, table and statement: a difference that repeats counts occurrences (in memory) rather
// than growing the file. Thread-safe: the comparator's thread, journal replay and the sessions
// report here, the admin port reads.
// Not how a divergence is found (verify/comparator.h, journal_replay.h) or proven settled
// (proxy/verification/).
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

namespace cutover::proxy {

struct Divergence {
  uint64_t id = 0;
  std::string kind{};               // e.g. "mismatch", "journal_refused" (docs/operating.md)
  std::string table{};              // schema-qualified where known; empty: unknown
  std::vector<std::string> keys{};  // the rows' keys where known ("(id)=('7')")
  uint64_t fingerprint = 0;         // the statement's (router::fingerprint), 0: none
  int64_t since_unix_ms = 0;        // when it was first found
  std::string detail{};             // what was seen, for the operator
  uint64_t occurrences = 1;         // since this process started
};

class DivergenceLedger {
 public:
  // Reads `file` (created with its directory when missing); a line that is not a whole record
  // (a torn last write) is skipped. Throws std::system_error when the file cannot be opened.
  explicit DivergenceLedger(std::filesystem::path file);
  DivergenceLedger(const DivergenceLedger&) = delete;
  DivergenceLedger& operator=(const DivergenceLedger&) = delete;

  // Records `found` as open (its id and time assigned here), or counts one more occurrence of
  // the open item with the same kind, table and fingerprint; durable on return. Returns the
  // item's id. Throws std::system_error when the file cannot be written.
  uint64_t open(Divergence found);

  // open() once per table of `tables` (once with no table when there are none), each with the
  // keys of `found` that name its table; a ledger that cannot be written is logged
  // (divergence_not_recorded) and cutover goes on.
  void note(const Divergence& found, const std::vector<std::string>& tables);

  // Closes every open item `settled` picks (verification proved its rows equal, or repair
  // fixed them), each with a durable "close" record saying why. Returns how many it closed.
  // Throws std::system_error when the file cannot be written.
  size_t close_if(const std::function<bool(const Divergence&)>& settled, std::string_view why);

  std::vector<Divergence> open_items() const;
  size_t open_count() const;
  // The tables with open divergences ("" for those whose table is unknown), sorted.
  std::vector<std::string> tables() const;

 private:
  using Identity = std::tuple<std::string, std::string, uint64_t>;  // kind, table, fingerprint
  void load();

  const std::filesystem::path file_;
  mutable std::mutex mutex_;
  std::map<uint64_t, Divergence> open_;  // by id
  std::map<Identity, uint64_t> by_identity_;
  uint64_t next_id_ = 1;
};

}  // namespace cutover::proxy
