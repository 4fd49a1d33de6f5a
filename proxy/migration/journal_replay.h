// Replay of the mirror-failure journal into the mirror: each *did not apply* record runs on new
// as it ran on old (the session's settings, then the transaction), in sequence order, on a
// connection per database and user; what cannot be settled by running it (a *may have applied*
// record, one new refuses, a corrupt one) goes to the mismatch log for verification and repair.
// Progress is a checkpoint next to the journal (verify/journal.h): a record whose COMMIT was
// sent but not answered before a crash is never run twice, it is reported as in doubt.
// A record written before old committed (an intent) runs only once old did: its marker says
// so or, when cutover stopped before writing one, old's own txid_status.
// Not the decision when to replay or the hand-over to live mirroring (mirror_journal.h).
#pragma once

#include <atomic>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "proxy/auth/credentials.h"
#include "proxy/base/config.h"
#include "proxy/migration/divergence_ledger.h"
#include "proxy/migration/own_connection.h"
#include "proxy/net/asio.h"
#include "router/classify.h"
#include "router/phase.h"
#include "verify/comparator.h"
#include "verify/journal.h"
#include "verify/replay_checkpoint.h"

namespace cutover::proxy {

struct ReplayProgress {
  uint64_t replayed = 0;         // records new ran and committed
  uint64_t already_applied = 0;  // may-have-applied records new says it committed
  uint64_t reported = 0;         // records (or corrupt bytes) sent to the mismatch log instead
  uint64_t not_needed = 0;       // intents old did not commit, or new has: nothing to replay
  bool new_unreachable = false;  // stopped early: new could not be reached (try again later)
};

class JournalReplayer {
 public:
  // Reads the checkpoint (throws std::runtime_error when it is unreadable) and reports a record
  // left in doubt by a crash during an earlier replay.
  // Whatever replay cannot settle is also opened in `divergences`.
  JournalReplayer(const Config& config, DivergenceLedger& divergences);

  // What became of intents on the source of truth (intent -> committed) that this process
  // knows without a marker on disk.
  using Settled = std::map<uint64_t, bool>;

  // Replays every record after the checkpoint up to `through`, or until `stop` (may be null)
  // says so between two records. Every intent up to `through` must be settled: in `settled`,
  // by its marker, or left by an earlier process (then old is asked). `skip_only`: stops at the
  // first record that would have to run or be asked about (while new is live).
  asio::awaitable<ReplayProgress> replay(std::shared_ptr<const Secrets> secrets, uint64_t through,
                                         const std::atomic<bool>* stop, const Settled& settled = {},
                                         bool skip_only = false);
  uint64_t replayed_through() const { return checkpoint_.through; }
  // Every record up to `through` needs no replay (intents new has, while live): the checkpoint
  // moves there. Throws std::system_error when the disk refuses.
  void pass_over(uint64_t through) { advance(through, 0); }
  // Closes the connections to new (they are opened again when needed).
  void disconnect();
  // Replays into `db` from now on (new unless a promotion made old the mirror).
  void set_target(router::Backend db) {
    if (db != target_) disconnect();
    target_ = db;
  }

 private:
  enum class OnSource { kRun, kSkip, kWait, kUnknown };

  bool skipped_without_running(const verify::JournalRecord& record, const Settled& settled) const;
  asio::awaitable<bool> replay_record(const verify::JournalRecord& record, const Settled& settled,
                                      const Secrets& secrets, ReplayProgress& progress);
  // Whether old committed an intent's transaction: its marker, or old's txid_status.
  asio::awaitable<OnSource> on_source(const verify::JournalRecord& record, const Settled& settled,
                                      const Secrets& secrets);
  asio::awaitable<std::optional<std::string>> commit_status(const verify::JournalRecord& record,
                                                            const Secrets& secrets);
  // A connection to `db` (the mirror, or the source of truth) for the record's database and user.
  asio::awaitable<OwnConnection*> connection_for(const verify::JournalRecord& record,
                                                 const Secrets& secrets, router::Backend db);
  asio::awaitable<OwnConnection*> connection_for(const verify::JournalRecord& record,
                                                 const Secrets& secrets) {
    return connection_for(record, secrets, target_);
  }
  asio::awaitable<std::optional<std::string>> txid_status(OwnConnection& connection, uint64_t id);
  asio::awaitable<OwnConnection::Answer> exchange(
      OwnConnection& connection, std::string_view messages, int ready_expected,
      size_t keep_rows = 1, std::optional<std::chrono::milliseconds> timeout = {});
  std::chrono::milliseconds patience_for(uint64_t sequence);
  asio::awaitable<void> clean_up(OwnConnection& connection, char status);
  void advance(uint64_t through, uint64_t in_doubt);
  void pass(uint64_t sequence);
  asio::awaitable<std::vector<std::string>> keys_of(const verify::JournalRecord& record,
                                                    const Secrets& secrets);
  void report(verify::JournalReport::What what, const verify::JournalRecord& record,
              std::string detail, std::vector<std::string> keys = {});
  uint64_t report_problems(const std::vector<verify::JournalProblem>& problems);

  const Config& config_;
  DivergenceLedger& divergences_;
  router::Backend target_ = router::Backend::kNew;
  const router::Classifier classifier_;
  verify::ReplayCheckpoint checkpoint_;
  bool checkpoint_moved_ = false;  // past skipped records, not yet written
  std::map<std::tuple<router::Backend, std::string, std::string>, std::unique_ptr<OwnConnection>>
      connections_;
  std::set<std::pair<std::string, uint64_t>> reported_problems_;  // segment, offset
  // How long the record being retried may run on new (see patience_for()).
  std::pair<uint64_t, std::chrono::milliseconds> patience_{0, 0};
};

}  // namespace cutover::proxy
