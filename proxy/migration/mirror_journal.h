// The mirror-failure journal as sessions use it, and the way back to live mirroring.
//
// A transaction new did not take is appended and made durable before old is asked to commit
// it (an intent: write_intent(), then settle_intent() with old's answer), so a commit the
// journal cannot take is refused, never acknowledged (the fdatasync runs on a thread of its
// own; group commit lets one sync cover every session's waiting records). From the first
// such write on, new is *behind*: every mirrored transaction that starts is journaled instead
// of run on new (so the journal keeps old's commit order, and no live write can overtake a
// journaled one it conflicts with), and no read goes to new. The replay loop (run_replay)
// waits for the live transactions begun before that moment to end, replays the journal into
// new, and hands over:
//   1. replay until the journal's end; new transactions keep being journaled meanwhile;
//   2. close: transactions that start now wait (a few milliseconds, at most
//      mirror.handover_timeout_ms) while the journaled ones still open end and are written;
//   3. replay those last records; new now has every committed write, in order;
//   4. live again: the waiting transactions run on new, the replayed segments are deleted.
// If step 2 or 3 cannot finish in time (a long transaction, new gone again), the hand-over is
// called off, the waiting transactions are journaled, and it is tried again later.
// Not the replay of one record (journal_replay.h) nor the journal's format (verify/journal.h).
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <set>
#include <string_view>
#include <utility>

#include "proxy/auth/credentials.h"
#include "proxy/base/config.h"
#include "proxy/migration/journal_replay.h"
#include "proxy/net/asio.h"
#include "verify/journal.h"
#include "verify/journal_writer.h"

namespace cutover::proxy {

class MirrorJournal {
 public:
  enum class Route { kLive, kJournal };

  // One mirrored transaction's place: its route, and the journal sequence it reserves before
  // the source of truth may commit. Ends the transaction's count when destroyed.
  class Transaction {
   public:
    Transaction(MirrorJournal& journal, Route route) : journal_(journal), route_(route) {}
    ~Transaction();
    Transaction(const Transaction&) = delete;
    Transaction& operator=(const Transaction&) = delete;

    Route route() const { return route_; }
    void reserve();  // once: later calls keep the first reservation
    void release();  // the source of truth did not commit: the place is given back
    uint64_t take_reservation() { return std::exchange(reserved_, 0); }  // 0 when none

   private:
    MirrorJournal& journal_;
    Route route_;
    uint64_t reserved_ = 0;
  };

  // Takes the journal directory for this process (flock; throws std::runtime_error when
  // another process has it), opens the journal and reads the replay checkpoint (throws
  // std::system_error / std::runtime_error when they are unusable).
  // What replay cannot settle is opened in `divergences`.
  MirrorJournal(const Config& config, DivergenceLedger& divergences);
  // Whether another process holds the journal directory `dir` now (a running cutover), or it
  // cannot be used at all.
  static bool held_elsewhere(const std::string& dir);
  ~MirrorJournal();
  MirrorJournal(const MirrorJournal&) = delete;
  MirrorJournal& operator=(const MirrorJournal&) = delete;

  // How a mirrored transaction that starts now is mirrored; waits while a hand-over closes.
  asio::awaitable<Route> begin_transaction();
  // new missed part of a live transaction: from now on transactions are journaled.
  void fall_behind(std::string_view reason);

  // Appends `record` (in the place `reserved`, when not 0) and returns once it is on disk: its
  // sequence, or 0 when the disk refused (the write must then not be acknowledged).
  using Durability = verify::JournalWriter::Durability;
  asio::awaitable<uint64_t> write(verify::JournalRecord record, uint64_t reserved,
                                  Durability durability = Durability::kSynced);
  // An intent (verify::JournalRecord::intent), written before the source of truth is asked to
  // commit (synced, or only written where it merely guards against cutover's own crash): 0
  // when the disk refused (the commit must then not be sent). Replay stops before it
  // until settle_intent().
  asio::awaitable<uint64_t> write_intent(verify::JournalRecord record, Durability durability);
  // Old answered the intent's commit: whether it must be `replay`ed (old committed it, new
  // lacks it) or not (old did not commit it, or new has it). Kept in memory for replay; also
  // written to disk as a marker when `marker`, for when old cannot tell after a crash (the
  // intent has no source transaction id, or the transaction went on without committing and a
  // later intent holds it).
  // False when a replayed intent that was only written could not be synced.
  asio::awaitable<bool> settle_intent(uint64_t sequence, bool replay, bool marker);
  // Whether a record can be made durable now (false after a failed write until the disk takes
  // one again, see JournalWriter::writable()). Thread-safe.
  bool writable() { return writer_.writable(); }

  // new lacks writes old has: no read may go there. A relaxed load: asked before every read.
  bool holds_records() const { return mode_.load(std::memory_order_relaxed) != Mode::kLive; }
  // Records written and not yet replayed into new (0 while live). Thread-safe.
  uint64_t records_behind() const;
  // Since when new has been behind, in seconds (0 while live); the journal's size on disk.
  double lag_seconds() const;
  uint64_t bytes_on_disk() const;

  // Which database the records are for: the mirror, new unless a promotion made it old. Set
  // only while no record waits (a role switch waits for that).
  void set_mirror(router::Backend db) { replayer_.set_target(db); }

  // Replays and hands over whenever new is behind, until stop().
  asio::awaitable<void> run_replay(std::function<std::shared_ptr<const Secrets>()> secrets);
  // Ends run_replay() after the record it is replaying (thread-safe).
  void stop() { stopping_.store(true); }
  // Replays everything there is and retires the journal (`cutover journal replay`, with no
  // sessions running).
  asio::awaitable<ReplayProgress> replay_all(std::shared_ptr<const Secrets> secrets);

 private:
  enum class Mode { kLive, kBehind, kClosing };

  asio::awaitable<bool> hand_over(const std::shared_ptr<const Secrets>& secrets);
  asio::awaitable<bool> commit(uint64_t sequence, Durability durability);
  // Replay may run every record up to this: durable, and before every intent not yet settled.
  uint64_t replayable_through();
  uint64_t replayable_through_locked() const;  // under mutex_
  void pass_over(uint64_t through);            // under mutex_, while live
  JournalReplayer::Settled settled_after(uint64_t replayed);
  void set_mode(Mode mode, std::string_view event, std::string_view reason);

  const Config& config_;
  int lock_fd_ = -1;
  verify::JournalWriter writer_;
  JournalReplayer replayer_;
  std::atomic<Mode> mode_{Mode::kLive};
  std::atomic<int64_t> behind_since_us_{0};  // steady clock; 0 while live
  std::atomic<bool> stopping_{false};
  std::mutex mutex_;                  // orders route decisions against the hand-over's close
  int open_live_ = 0;                 // live transactions not yet ended (under mutex_)
  int open_journaled_ = 0;            // journaled transactions not yet written (under mutex_)
  std::set<uint64_t> unsettled_;      // intents old has not answered yet (under mutex_)
  JournalReplayer::Settled settled_;  // intents old answered, not yet replayed (under mutex_)
  uint64_t replayed_total_ = 0;
  std::atomic<uint64_t> replayed_through_{0};  // replayer_'s, for records_behind()
  asio::thread_pool disk_{1};
};

}  // namespace cutover::proxy
