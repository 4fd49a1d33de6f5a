// Mirroring in dual_write: a write runs on old, the source of truth, and then on new, the
// mirror, over the session's connection there; the client sees old's answer only, and the
// comparator gets both.
//
// Strict ordering: old's ReadyForQuery for a mirrored unit is held back until new has run the
// unit too, and the client's next unit waits for both. So when a COMMIT reaches old, new has
// already executed the transaction's writes and holds their row locks; a conflicting writer
// blocked on old by those locks reaches new only after them. An autocommit write would release
// its locks on old before new runs it, so cutover wraps it: BEGIN and the write go to old, then
// BEGIN and the write to new, then COMMIT to old and, with old's outcome, COMMIT or ROLLBACK to
// new; the client sees the write's own answer and a ReadyForQuery saying idle. Parallel
// ordering (mirror_parallel.cpp) pipelines writes inside a transaction. COPY FROM STDIN is
// kept as it streams to old and run on new at its end (mirror_copy.cpp). What new misses of a
// transaction is journaled before old is asked to commit it, or the commit is refused
// (MirroredTransaction, mirror_commit.cpp).
// Not the choice of what is mirrored (the session's dispatcher) nor what values are pinned
// (pinner.h).
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "proxy/link/backend_link.h"
#include "proxy/link/kept_messages.h"
#include "proxy/link/reply_filter.h"
#include "proxy/link/secondary.h"
#include "proxy/migration/commit_fence.h"
#include "proxy/migration/proxy_context.h"
#include "proxy/mirror/effect_planner.h"
#include "proxy/mirror/mirror_break.h"
#include "proxy/mirror/mirrored_transaction.h"
#include "proxy/mirror/pinner.h"
#include "proxy/mirror/witnessing.h"
#include "proxy/net/asio.h"
#include "router/classify.h"
#include "router/extended.h"
#include "router/refusals.h"
#include "verify/comparator.h"

namespace cutover::proxy {

class Mirror {
 public:
  // What the mirror needs of the session around it: old's side of a unit (the relay reads
  // old's answers), and the client's.
  class Host : public SourceOfTruth {
   public:
    // Sends the client's messages queued for old; false when old's connection failed.
    virtual asio::awaitable<bool> forward_to_old(std::string& pending) = 0;
    // Until old owes no answer and its bytes went out to the client; false when the session
    // ends meanwhile.
    virtual asio::awaitable<bool> wait_for_old() = 0;
    // `units` units of cutover's making to old (their ReplyFilter edits registered first); the
    // held answer, nullopt when old's connection failed.
    virtual asio::awaitable<std::optional<HeldAnswer>> run_on_old(std::string_view messages,
                                                                  int units) = 0;
    // After run_on_old(): the answer of a unit of cutover's own in it that the filter was told
    // to keep (ReplyFilter::keep_answer()); nullopt when there is none.
    virtual std::optional<HeldAnswer> take_kept_answer() = 0;
    // The ReadyForQuery that ends a mirrored unit, written to the client.
    virtual asio::awaitable<bool> send_ready_to_client(char status) = 0;
  };

  struct Links {
    BackendLink& primary;    // old's in dual_write: the client gets its answers
    BackendLink& secondary;  // new's: the mirror
    Secondary& new_side;     // keeps the secondary usable
  };
  Mirror(Host& host, Links links, Pinner& pinner, ProxyContext& context, uint64_t conn_id,
         const std::string& database, const std::string& user);

  // Whether `unit` is mirrored (COPY is, through copy()).
  bool mirrors(const router::Classification& unit) const;
  // A decommission: nothing more is mirrored.
  void retire() { retired_ = true; }
  bool retired() const { return retired_; }

  // Every answer new owes is read (parallel ordering), and no COPY is being mirrored.
  bool quiet() const { return pending_.empty() && !copy_.active; }
  // Why the session must end after a unit returned false while old's connection is fine (a
  // commit that could not be journaled); empty otherwise.
  ErrorCode failure() const { return failure_; }
  // Whether the last unit sent to new ran there without an error.
  bool applied() const { return applied_; }
  // Whether the last batch() was refused (old raised the refusal in its place, nothing of it
  // ran anywhere).
  bool refused() const { return refused_; }
  // Logs and counts a unit refused before old ran it (router/refusals.h).
  void note_refused(const router::Refusal& refusal, const router::Classification& unit);
  // ParseCompletes of cutover's statements taken out of old's answer to the current batch:
  // the first that many of them are on old now. Reset when a batch starts going to old.
  uint64_t* own_parses_counter() { return &own_parses_taken_out_; }

  // A Query that writes (`whole`), after the client's `pending` messages for old.
  asio::awaitable<bool> query(std::string_view whole, const router::Classification& unit,
                              std::string& pending);
  // An extended batch that writes, as planned; `journal_prefix` prepares every statement it
  // uses on a fresh connection.
  asio::awaitable<bool> batch(std::string_view batch, const router::BatchPlan& plan,
                              std::string_view journal_prefix, std::string& pending);
  // An extended batch refused before old runs it (router/refusals.h): old raises the refusal
  // in its place, answered as if its first message failed; refused() says so afterwards.
  asio::awaitable<bool> refuse_batch(const router::Refusal& refusal,
                                     const router::Classification& unit, std::string& pending);
  // The Sync of a batch old ran in pieces (`batch` whole, `kept_whole` false when it was too
  // large to keep): old runs the Sync, then new the whole batch. Not wrapped (old began
  // running it before cutover knew what it was).
  asio::awaitable<bool> streamed_batch(std::string_view sync, std::string_view batch,
                                       const router::BatchPlan& plan,
                                       std::string_view journal_prefix, bool kept_whole,
                                       std::string& pending);
  // A read sampled for comparison: old answers the client, new runs it too.
  asio::awaitable<bool> shadow_read(std::string_view for_old, std::string_view for_new,
                                    const router::Classification& unit, std::string& pending);

  // COPY FROM STDIN (mirror_copy.cpp): its Query, then each of the client's copy messages.
  asio::awaitable<bool> copy(std::string_view whole, const router::Classification& unit);
  bool copying() const { return copy_.active; }
  asio::awaitable<bool> copy_data(char type, std::string_view whole, std::string& pending);
  void end_copy();  // old refused the COPY: no data follows

  // Reads what new owes for writes sent ahead, then for copied session state; false when new
  // was dropped meanwhile.
  asio::awaitable<bool> drain_new();
  // Both answers to the comparator (off the client's path), named by database.
  // `effect_table`: whose rows' witnesses both answers hold.
  void compare(verify::WriteAnswer on_primary, verify::WriteAnswer on_secondary,
               const router::Classification& unit, bool nondeterministic, bool shadow_read,
               std::string effect_table = {});
  // Session state the client set (recorded in new_side's state log just before): kept in its
  // place in the transaction, for the journal.
  void session_unit(std::string_view whole) {
    transaction_.keep_state(whole, new_side_.state().units().size());
  }
  // The connections traded places: new's transaction id is unknown.
  void roles_swapped() { transaction_.set_new_transaction_id(0); }

 private:
  enum class Send { kSent, kSkipped, kLost };
  // What cutover adds around a unit it runs on new: its BEGIN first, its transaction id query
  // last (see run_on_new()); and whether the unit ends a transaction there (it did on old),
  // so that a lost answer leaves it in doubt.
  struct Frame {
    bool begin = false;
    bool ask_transaction_id = false;
    bool ends_transaction = false;
    bool shadow_read = false;  // a read run on new only for the comparator
    bool own = false;          // cutover's COMMIT or ROLLBACK, not a client's unit (not counted)
    bool unpinned = false;     // the unit calls what cutover could not pin: marked for comparison
    // Which of both sides' answers hold witnesses (a pointer: GCC 12 mishandles coroutine
    // parameters of class types that are not trivially copyable, such as a Frame holding it).
    const Witnessing* witnessed = nullptr;
  };
  struct Pending {  // a write new was sent and has not answered yet (parallel ordering)
    Send sent;
    uint64_t generation;  // new's connection it was sent on (Secondary::generation())
    Frame frame;
    router::Classification unit;
    HeldAnswer old_answer;
    Witnessing witnessed;  // what frame.witnessed points to once it is awaited
  };
  struct Copy {  // a COPY FROM STDIN being mirrored: the Query and its data so far
    bool active = false;
    bool refused = false;  // too large to mirror: old got a CopyFail, the rest is dropped
    router::Classification unit{};
    KeptMessages kept{};
  };

  bool wraps(const router::Classification& unit) const;
  asio::awaitable<bool> unit(std::string_view old_prefix, std::string_view for_old,
                             std::string_view for_new, std::string_view for_journal,
                             const router::Classification& unit,
                             const std::vector<int>& own_parses = {});
  // `unpinned`: the comparator marks the pair; `unsafe`: an allowed unsafe write, an open
  // divergence (Pinner::unsafe()).
  asio::awaitable<bool> after_old(const HeldAnswer& held, bool wrap, std::string_view for_new,
                                  std::string_view for_journal, const router::Classification& unit,
                                  bool unpinned, bool unsafe);
  // The refusal of the unit just pinned when it is unsafe and such writes are refused.
  std::optional<router::Refusal> unsafe_refusal(const router::Classification& unit);
  asio::awaitable<bool> refuse(const router::Refusal& refusal, const router::Classification& unit);
  static bool without_context(protocol::ErrorFields& error);  // a refusal's error, as shown
  // An error's position in `ran` (the client's text `sent` rewritten) moved into `sent`.
  static std::function<bool(protocol::ErrorFields&)> in_client_text(
      std::string_view sent, std::string_view ran, const router::TextMap& rewrites);
  // A single UPDATE or DELETE of a Query whose rows follow from other data: run on old
  // returning its rows' keys, then on new on those keys (effect_planner.h).
  asio::awaitable<bool> by_effect(const EffectPlanner::Plan& plan, std::string_view sql,
                                  const router::Classification& unit);
  // New's text waits for old's keys (a statement returning witnesses does not: it may be
  // pipelined in parallel ordering).
  bool runs_by_effect() const {
    return (effect_ != nullptr && effect_->on_keys) || keyed_.pinned != nullptr ||
           keyed_.streamed != nullptr;
  }
  // How old's answer to the unit about to run is held: the keys taken out of it, errors edited.
  ReplyFilter::Holding holding();
  // New's text and the journal's for the unit by its effect, from old's answer; false when it
  // does not hold the keys asked for.
  bool keyed_texts(const HeldAnswer& held, std::string& for_new, std::string& for_journal) const;
  // The refusal of a batch binding a write that can be mirrored neither as a statement nor by
  // its effect (Pinner::data_dependent()); allowed by unsafe_writes, it is noted as unsafe.
  std::optional<router::Refusal> data_dependent_refusal(const router::Classification& unit);
  // Old answered a unit of the client's: what it saw committed is what new must have before
  // the unit goes there (CommitFence).
  void old_answered() { seen_commits_ = context_.commits.horizon(); }
  // mirror_commit.cpp: the refusal of a write that needs the journal while it cannot be
  // written; the intent of a commit new needs from the journal (`committing`: the unit that
  // commits), nullopt when the commit may go; a commit refused in its place.
  std::optional<router::Refusal> journal_refusal(const router::Classification& unit);
  asio::awaitable<std::optional<router::Refusal>> journal_first(std::string_view committing,
                                                                const router::Classification& unit);
  asio::awaitable<bool> refuse_commit(const router::Refusal& refusal);
  bool asks_source_id(const router::Classification& unit, bool wrap) const;
  void note_source_id(const HeldAnswer& answer);
  asio::awaitable<void> join(const router::Classification& unit);
  asio::awaitable<bool> settle(bool committed);
  // Takes this session's CommitFence ticket before a commit goes to old (waiting out a hold).
  asio::awaitable<void> admit_commit();
  asio::awaitable<bool> send_ready(char status);
  void note_unpinned_write(const router::Classification& unit);
  // mirror_new.cpp: the unit's side on new.
  asio::awaitable<MirrorOutcome> run_on_new(std::string_view messages, Frame frame,
                                            const router::Classification& unit,
                                            const HeldAnswer* old_answer);
  asio::awaitable<Send> send_to_new(std::string_view messages, const router::Classification& unit,
                                    bool pipelined = false);
  asio::awaitable<MirrorOutcome> await_new(Send sent, Frame frame,
                                           const router::Classification& unit,
                                           const HeldAnswer* old_answer);
  asio::awaitable<MirrorOutcome> end_new_transaction(bool commit);
  // A DataRow of new's answer to an Execute that holds witnesses as `at` says: the client's
  // part to `rows`, a witness to `effects` (when compared).
  static void add_new_row(Witnessing::Execute at, std::string_view body, verify::RowSetHasher& rows,
                          verify::RowEffects& effects);
  // What old's witnesses (taken out of its answer with any keys) say the unit did.
  static verify::RowEffects effects_of(const HeldAnswer& held, const Witnessing& witnessing);
  // The witnesses the unit about to run returns (a Query by its plan, a batch as pinned).
  Witnessing witnessing() const;
  Witnessing witnessing_;  // of the unit running in strict ordering (Frame::witnessed)
  // mirror_parallel.cpp
  bool runs_parallel(const router::Classification& unit) const;
  asio::awaitable<bool> unit_parallel(std::string_view old_prefix, std::string_view for_old,
                                      std::string_view for_new, std::string_view for_journal,
                                      const router::Classification& unit,
                                      const std::vector<int>& own_parses);
  asio::awaitable<void> settle_pending();

  Host& host_;
  BackendLink& primary_;
  BackendLink& secondary_;
  Secondary& new_side_;
  Pinner& pinner_;
  ProxyContext& context_;
  const uint64_t conn_id_;
  MirroredTransaction transaction_;
  MirrorBreak broken_ = MirrorBreak::kNone;  // why new's copy of the transaction is not whole
  bool applied_ = false;
  bool refused_ = false;
  std::deque<Pending> pending_;
  uint64_t own_parses_taken_out_ = 0;
  Copy copy_;
  // While a unit mirrored by its effect runs: its plan and the text it was made from (a
  // Query), or the pinned batch with keyed Binds and what new and the journal get first.
  const EffectPlanner::Plan* effect_ = nullptr;
  std::string_view effect_sql_;
  struct KeyedBatch {
    const Pinner::PinnedBatch* pinned = nullptr;
    const std::vector<Pinner::PinnedBatch::KeyedBind>* streamed = nullptr;  // sent in pieces
    std::string_view batch;
    std::string_view new_prefix;
    std::string_view journal_prefix;
  };
  KeyedBatch keyed_{};
  // While a batch runs that cutover pinned: what the reply filter takes of old's answer, and
  // which answers hold witnesses (a batch sent in pieces: `streamed_witnessing_`).
  const Pinner::PinnedBatch* pinned_ = nullptr;
  const Witnessing* streamed_witnessing_ = nullptr;
  // How an error of old's in the next unit is shown to the client: its position moved into
  // the client's text (the text was pinned), or a refusal without its DO block's context.
  std::function<bool(protocol::ErrorFields&)> error_edit_;
  CommitFence::Ticket committing_;  // a commit of this session's is between old and new
  uint64_t seen_commits_ = 0;       // CommitFence::horizon() when old last answered a unit
  bool retired_ = false;
  ErrorCode failure_{};
};

}  // namespace cutover::proxy
