// Mirroring in dual_write (simple protocol): a write runs on old, the source of truth, and then
// on new, the mirror, over the session's connection to new; the client sees old's answer only.
//
// Strict ordering: old's ReadyForQuery for a mirrored unit is held back until new has run the
// unit too, and the client's next unit waits for both. So when a COMMIT reaches old, new has
// already executed the transaction's writes and holds their row locks; a conflicting writer
// blocked on old by those locks reaches new only after them. An autocommit write would release
// its locks on old before new runs it, so cutover wraps it: BEGIN and the write go to old, then
// BEGIN and the write to new, then COMMIT to old and, with old's outcome, COMMIT or ROLLBACK to
// new; the client sees the write's own answer and a ReadyForQuery saying idle.
#include <cstdlib>
#include <random>
#include <utility>

#include "proxy/log.h"
#include "proxy/mirror_journal.h"
#include "proxy/mirror_messages.h"
#include "proxy/session.h"
#include "router/pinning.h"

namespace cutover::proxy {
namespace {

using Clock = std::chrono::steady_clock;

// What the relay's scanner captures of old's messages (session.cpp), and while a mirrored
// unit's answer is expected.
constexpr std::string_view kCapture = "ZSCE";
constexpr std::string_view kCaptureWithRows = "ZSCED";

}  // namespace

bool Session::mirrors(const router::Classification& unit) const {
  using router::Kind;
  // COPY's data comes later from the client (mirror_copy()); a decommissioned mirror gets none.
  if (unit.copies_in || mirror_retired_) return false;
  return unit.kind == Kind::kWrite || unit.kind == Kind::kDdl || unit.kind == Kind::kUnknown ||
         unit.kind == Kind::kTransaction;
}

// Whether an autocommit unit gets cutover's BEGIN and COMMIT around it (see the top).
bool Session::wraps(const router::Classification& unit) const {
  using router::Kind;
  return transaction_status_ == 'I' && (unit.kind == Kind::kWrite || unit.kind == Kind::kUnknown) &&
         !unit.controls_transaction && !unit.refuses_transaction_block;
}

asio::awaitable<bool> Session::mirror_query(std::string_view whole,
                                            const router::Classification& unit,
                                            std::string& pending) {
  if (!co_await forward_to_old(pending)) co_return false;
  --pending_replies_;  // counted when the client sent it; run_on_old() counts what goes out
  if (!co_await wait_for_old()) co_return false;
  if (transaction_status_ == 'I') pinned_transaction_time_.clear();
  mirror_unpinned_ = false;  // pin_unit() and pin_defaults() say otherwise
  std::string pinned;        // both sides run the pinned text
  if (unit.nondeterministic) {
    const std::string sql = pin_unit(query_text(whole), unit);
    if (!sql.empty()) {
      append_query(pinned, sql);
      whole = pinned;
    }
  }
  if (unit.inserts) {
    const std::string filled = co_await pin_defaults(query_text(whole), unit);
    if (!filled.empty()) {
      pinned.clear();
      append_query(pinned, filled);
      whole = pinned;
    }
  }
  co_return co_await mirror_unit({}, whole, whole, whole, unit);
}

// An extended-protocol batch that writes: old gets it (after the unnamed statement, when old's
// is stale), new gets it after the statements it lacks; what its statements compute per
// server is pinned (session_pinning.cpp).
asio::awaitable<bool> Session::mirror_batch(std::string_view batch, const router::BatchPlan& plan,
                                            std::string& pending) {
  if (!co_await forward_to_old(pending)) co_return false;
  --pending_replies_;  // its Sync, counted when the client sent it
  if (!co_await wait_for_old()) co_return false;
  if (transaction_status_ == 'I') pinned_transaction_time_.clear();
  // Binds of statements the batch does not parse or bind itself go unpinned.
  mirror_unpinned_ = plan.unit.nondeterministic && plan.pinnable.empty();
  if (mirror_unpinned_) note_unpinned(plan.unit.fingerprint, "extended protocol: not pinned");
  const std::optional<PinnedBatch> pinned = co_await pin_batch(batch, plan);
  // A statement cutover cannot give new (ambiguous, or past the tracking bound): the batch and
  // the rest of its transaction are not applied there.
  if (!plan.new_can_run) mirror_broken_ = "statement unknown to cutover";
  const std::string_view to_old = pinned ? std::string_view(pinned->for_old) : batch;
  const std::string for_new =
      plan.new_prefix + std::string(pinned ? std::string_view(pinned->for_new) : batch);
  // For the journal: every statement it uses prepared first, as on a fresh connection.
  const std::string for_journal =
      plan_batch(batch, true).new_prefix +
      std::string(pinned ? std::string_view(pinned->for_journal) : batch);
  mirror_applied_ = false;
  own_parses_taken_out_ = 0;
  static const std::vector<int> no_parses;
  const std::vector<int>& own_parses = pinned ? pinned->own_parses : no_parses;
  if (!co_await mirror_unit(plan.old_prefix, to_old, for_new, for_journal, plan.unit, own_parses)) {
    co_return false;
  }
  if (pinned) note_pinned_batch(*pinned, own_parses_taken_out_);
  batch_parses_on_old_ = 0;
  statements_.apply(batch, plan, true, mirror_applied_);
  note_batch(plan);
  co_return true;
}

// The Sync of a batch that went to old in pieces (a Flush, or it spanned reads): old runs the
// rest, then new the whole batch. Not wrapped (old began running it before cutover knew what
// it was), so an autocommit write of this kind has no ordering guarantee; asyncpg's first
// execution of each statement comes this way.
asio::awaitable<bool> Session::mirror_partial_batch(std::string_view sync, std::string& pending) {
  batch_to_old_ = false;
  batch_parses_on_old_ = 0;
  const KeptMessages kept = std::exchange(partial_batch_, {});
  const std::string batch = kept.bytes() + std::string(sync);
  const bool too_large = kept.overflowed();
  const router::BatchPlan plan = plan_batch(batch);
  if (plan.executes)
    context_.metrics.unit_routed(plan.unit.kind, database_of(router::Backend::kOld));
  mirror_unpinned_ = partial_unpinned_;  // its Binds were pinned as they came (pin_piece())
  if (!plan.executes || !mirrors(plan.unit)) {
    settle_streamed_pinnings(0);  // whether old has them is not known until its answer
    note_batch(plan);
    pending.append(sync);
    co_return true;
  }
  if (!co_await forward_to_old(pending)) co_return false;
  co_await settle_pending_mirror();  // before its Sync lets old end the transaction
  co_await join_mirror_transaction(plan.unit);
  reserve_journal_place(transaction_status_ == 'I' || plan.unit.controls_transaction);
  // Its ReadyForQuery comes after those of the units still owed before this Sync.
  old_filter_.hold_ready(pending_replies_ - 1, false);
  --pending_replies_;  // the Sync, counted when the client sent it; run_on_old() counts it
  auto answer = co_await run_on_old(sync, 1);
  if (!answer) co_return false;
  settle_streamed_pinnings(own_parses_taken_out_);
  if (too_large || !plan.new_can_run) mirror_broken_ = "batch not kept whole for new";
  const std::string for_new = plan.new_prefix + batch;
  const std::string for_journal = plan_batch(batch, true).new_prefix + batch;
  mirror_applied_ = false;
  if (!co_await mirror_after_old(*answer, false, for_new, for_journal, plan.unit)) {
    co_return false;
  }
  statements_.apply(batch, plan, false, mirror_applied_);
  note_batch(plan);
  co_return true;
}

// Whether this read, which old is about to run, is sampled for a shadow read on new: a Query
// or a whole extended batch, outside transactions, while new has every write and nothing else
// is in flight.
bool Session::shadows(const router::Classification& unit) {
  const uint32_t share = context_.live.shadow_reads();
  if (share == 0 || context_.comparator == nullptr) return false;
  if (unit.kind != router::Kind::kRead || transaction_status_ != 'I' || pending_replies_ != 1 ||
      !new_ready_ || nonstandard_strings_ || context_.journal->holds_records()) {
    return false;
  }
  thread_local std::minstd_rand sample(std::random_device{}());
  return sample() % 10000 < share;
}

// A sampled read: old runs it for the client (its ReadyForQuery held), then new runs the same
// read (`for_new`: with what new must prepare first) and the comparator gets both answers. The
// client waits for new's answer too, so shadow reads cost the sampled reads new's latency; a
// failure on new is only logged.
asio::awaitable<bool> Session::shadow_read(std::string_view for_old, std::string_view for_new,
                                           const router::Classification& unit,
                                           std::string& pending) {
  if (!co_await forward_to_old(pending)) co_return false;
  --pending_replies_;  // counted when the client sent it; run_on_old() counts it
  old_filter_.hold_ready(0, false);
  auto answer = co_await run_on_old(for_old, 1);
  if (!answer) co_return false;
  mirror_applied_ = false;
  if (answer->sqlstate.empty()) {
    mirror_unpinned_ = unit.nondeterministic;  // now() and the like differ, of course
    co_await run_on_mirror(for_new, {.shadow_read = true}, unit, &*answer);
  }
  co_return co_await send_ready(answer->status);
}

// Runs one unit on old (after `old_prefix`, whose ParseComplete is taken out, as are those of
// cutover's Parses `own_parses` Parses into the unit, for pinning), then on new as
// `for_new`, with cutover's BEGIN/COMMIT around an autocommit write (see the top). The
// transaction's units are kept as `for_journal` (self-contained) until it ends: if new missed
// any of them and old committed, the whole transaction goes to the journal before the client
// hears of the commit.
asio::awaitable<bool> Session::mirror_unit(std::string_view old_prefix, std::string_view for_old,
                                           std::string_view for_new, std::string_view for_journal,
                                           const router::Classification& unit,
                                           const std::vector<int>& own_parses) {
  if (runs_parallel(unit)) {
    co_return co_await mirror_unit_parallel(old_prefix, for_old, for_new, for_journal, unit,
                                            own_parses);
  }
  co_await settle_pending_mirror();  // before old may end the transaction
  const bool wrap = wraps(unit);     // old owes nothing now: its status is the session's
  co_await join_mirror_transaction(unit);
  reserve_journal_place(!wrap && (unit.controls_transaction || transaction_status_ == 'I'));
  std::string to_old;
  if (wrap) {
    append_query(to_old, "BEGIN");
    old_filter_.drop_answer(0);
  }
  if (!old_prefix.empty()) old_filter_.drop_parse_complete(wrap ? 1 : 0, 0);
  for (const int parses_before : own_parses) {  // cutover's statements for pinning
    old_filter_.drop_parse_complete(wrap ? 1 : 0, parses_before + (old_prefix.empty() ? 0 : 1),
                                    &own_parses_taken_out_);
  }
  old_filter_.hold_ready(wrap ? 1 : 0, false);
  to_old.append(old_prefix);
  to_old.append(for_old);
  auto answer = co_await run_on_old(to_old, wrap ? 2 : 1);
  if (!answer) co_return false;
  co_return co_await mirror_after_old(*answer, wrap, for_new, for_journal, unit);
}

// The rest of a mirrored unit once old has answered it (its ReadyForQuery held): new runs it
// unless old refused it, cutover's COMMIT follows a wrapped write, and a transaction that
// ended is settled (journaled if new missed part of it) before the client hears of it.
asio::awaitable<bool> Session::mirror_after_old(const HeldAnswer& held, bool wrap,
                                                std::string_view for_new,
                                                std::string_view for_journal,
                                                const router::Classification& unit) {
  std::string to_old;
  if (!held.sqlstate.empty()) {
    // Old refused it: nothing of it reaches new. A wrapped write is rolled back on old; a
    // transaction old ended with the error ends on new too.
    if (wrap) {
      append_query(to_old, "ROLLBACK");
      const bool rolled_back = co_await run_own_on_old(to_old);
      if (!rolled_back) co_return false;
    }
    const char status = wrap ? 'I' : held.status;
    if (status != 'I' && mirror_txn_ != nullptr) mirror_txn_->release();
    if (status == 'I') {
      co_await end_mirror_transaction(false);
      if (!co_await settle_mirror_transaction(false)) co_return false;
    }
    co_return co_await send_ready(status);
  }
  // A COMMIT old answered with ROLLBACK (its transaction had failed) rolls new back too.
  const bool old_rolled_back =
      held.status == 'I' && !held.tags.empty() && held.tags.back() == "ROLLBACK";
  std::string to_new;
  MirrorFrame frame{.begin = wrap, .ends_transaction = !wrap && held.status == 'I'};
  if (wrap) {
    append_query(to_new, "BEGIN");
    mirror_txn_units_.append(to_new);
  }
  if (old_rolled_back) {
    append_query(to_new, "ROLLBACK");
  } else {
    to_new.append(for_new);
    mirror_txn_units_.append(for_journal);
    // Until new's transaction has an id, ask for it after each write that leaves it open.
    frame.ask_transaction_id =
        new_transaction_id_ == 0 && !unit.controls_transaction && (wrap || new_status_ == 'T');
    if (frame.ask_transaction_id) append_query(to_new, kAskTransactionId);
  }
  note_mirror(co_await run_on_mirror(to_new, frame, unit, old_rolled_back ? nullptr : &held), unit);
  char status = held.status;
  bool committed = !old_rolled_back;  // what old did, once status says the transaction ended
  if (wrap) {
    to_old.clear();
    append_query(to_old, "COMMIT");
    reserve_journal_place(true);
    old_filter_.hold_ready(0, true);  // its tag is cutover's; an error still reaches the client
    auto commit = co_await run_on_old(to_old, 1);
    if (!commit) co_return false;
    status = commit->status;
    committed = commit->sqlstate.empty();
    if (committed) mirror_txn_units_.append(to_old);
    note_mirror(co_await end_mirror_transaction(committed), unit);
  } else if (status == 'I') {
    note_mirror(co_await end_mirror_transaction(false), unit);  // acts when new's broke
  }
  if (status != 'I' && mirror_txn_ != nullptr) mirror_txn_->release();  // it did not end
  if (status == 'I' && !co_await settle_mirror_transaction(committed)) co_return false;
  co_return co_await send_ready(status);
}

// Runs a unit of cutover's own on old (whole messages ending with a Query or a Sync), its
// answer taken out of the client's stream.
asio::awaitable<bool> Session::run_own_on_old(std::string_view messages) {
  old_filter_.drop_answer(0);
  pending_replies_ += 1;
  backend_write_whole_ = false;
  const ErrorCode ec = co_await write_all(backend_, messages);
  if (ec) co_return false;
  backend_write_whole_ = true;
  const bool answered = co_await wait_for_old();
  co_return answered;
}

// Sends cutover's messages (`units` units, their edits already registered) to old and waits
// for the held answer; nullopt when old's connection failed (the session then ends).
asio::awaitable<std::optional<HeldAnswer>> Session::run_on_old(std::string_view messages,
                                                               int units) {
  const auto started = Clock::now();
  pending_replies_ += units;
  backend_write_whole_ = false;
  backend_scanner_.set_capture(kCaptureWithRows);  // the comparator hashes RETURNING rows
  ErrorCode ec = co_await write_all(backend_, messages);
  if (ec) co_return std::nullopt;
  backend_write_whole_ = true;
  const bool answered = co_await wait_for_old() && old_filter_.has_held();
  backend_scanner_.set_capture(kCapture);
  if (!answered) co_return std::nullopt;
  context_.metrics.backend_duration(database_of(router::Backend::kOld),
                                    std::chrono::duration<double>(Clock::now() - started).count());
  co_return old_filter_.take_held();
}

// Until old owes no ReadyForQuery and its answers went out to the client; false when the
// session ends meanwhile.
asio::awaitable<bool> Session::wait_for_old() {
  while (pending_replies_ > 0 || old_chunk_unsent_) {
    awaiting_old_ = true;
    old_answer_signal_.expires_at(Clock::time_point::max());
    co_await old_answer_signal_.async_wait();
    auto state = co_await asio::this_coro::cancellation_state;
    if (state.cancelled() != asio::cancellation_type::none) co_return false;
  }
  awaiting_old_ = false;
  co_return true;
}

// Runs a mirrored unit on new (after cutover's own first query, `prefix`) and hands both
// answers to the comparator (`old_answer`; null when there is nothing to compare). A failure
// there never reaches the client: it is logged, and the rest of new's transaction is not
// applied (it ends with a ROLLBACK). kUncertain: new's connection failed or timed out while the
// unit could commit there (`frame.ends_transaction`: an autocommit statement, or a COMMIT).
//
// After the first write of a transaction, new is asked for the transaction's id in the same
// write (`frame.ask_transaction_id`), so it is known long before the COMMIT: if the COMMIT's
// answer is then lost, journal replay asks new whether that transaction committed
// (txid_status) instead of leaving the record in doubt.
asio::awaitable<Session::MirrorOutcome> Session::run_on_mirror(std::string_view messages,
                                                               MirrorFrame frame,
                                                               const router::Classification& unit,
                                                               const HeldAnswer* old_answer) {
  const MirrorSend sent = co_await send_to_mirror(messages, unit);
  const MirrorOutcome outcome = co_await await_mirror(sent, frame, unit, old_answer);
  co_return outcome;
}

// The first half of run_on_mirror(): the unit goes to new, unless new is down or its
// transaction broke (skipped: logged, and the rest of the transaction is skipped too).
asio::awaitable<Session::MirrorSend> Session::send_to_mirror(std::string_view messages,
                                                             const router::Classification& unit,
                                                             bool pipelined) {
  if (mirror_broken_.data() == kJournaledRoute.data()) co_return MirrorSend::kSkipped;
  // Pipelined (parallel ordering): what new owes for earlier writes is read later.
  const bool drained = pipelined && new_replies_to_discard_ == 0;
  const bool ready = new_ready_ && mirror_broken_.empty() && (drained || co_await drain_new());
  if (!ready) {
    log::warn("mirror_skipped", {{"conn", id_},
                                 {"fingerprint", log::hex(unit.fingerprint)},
                                 {"reason", mirror_broken_.empty() ? "new down" : mirror_broken_}});
    // The rest of the transaction must not reach new either, even once new is back: there it
    // would run without what came before (outside any transaction, after a skipped BEGIN).
    if (mirror_broken_.empty()) mirror_broken_ = "an earlier unit of the transaction was skipped";
    co_return MirrorSend::kSkipped;
  }
  const ErrorCode ec = co_await write_all(new_backend_, messages);
  co_return ec ? MirrorSend::kLost : MirrorSend::kSent;
}

// The second half: new's answer to what send_to_mirror() sent, and its comparison.
asio::awaitable<Session::MirrorOutcome> Session::await_mirror(MirrorSend sent, MirrorFrame frame,
                                                              const router::Classification& unit,
                                                              const HeldAnswer* old_answer) {
  auto counted = [&](MirrorOutcome outcome) {
    if (frame.shadow_read || frame.own) return outcome;
    context_.metrics.mirror_write(
        outcome == MirrorOutcome::kApplied     ? Metrics::MirrorResult::kApplied
        : outcome == MirrorOutcome::kUncertain ? Metrics::MirrorResult::kUncertain
                                               : Metrics::MirrorResult::kNotApplied);
    return outcome;
  };
  if (sent == MirrorSend::kSkipped) co_return counted(MirrorOutcome::kNotApplied);
  new_read_started_ = Clock::now();
  new_wait_limit_ = context_.live.mirror_timeout();
  new_read_timed_out_ = false;
  awaiting_new_ = true;
  std::vector<std::string> tags;
  verify::RowSetHasher rows;
  std::string error;
  bool lost = sent == MirrorSend::kLost;
  protocol::ProtocolError frame_error{};
  const int replies = 1 + (frame.begin ? 1 : 0) + (frame.ask_transaction_id ? 1 : 0);
  int units = replies;
  while (!lost && units > 0) {
    auto message = co_await next_from_new(frame_error);
    // The answer to cutover's BEGIN (the first) or its transaction id query (the last).
    const bool own = (frame.begin && units == replies) || (frame.ask_transaction_id && units == 1);
    if (!message) {
      lost = true;
    } else if (message->type == 'E' && error.empty()) {
      error = error_message(*message);
    } else if (message->type == 'Z') {
      if (--units == 0) new_status_ = message->body.empty() ? 'I' : message->body[0];
    } else if (own && message->type == 'D') {
      const auto id = first_column(message->body);  // NULL: none assigned yet
      new_transaction_id_ = id ? std::strtoull(id->c_str(), nullptr, 10) : 0;
    } else if (!own && message->type == 'C') {
      tags.emplace_back(message->body.substr(0, message->body.find('\0')));
    } else if (!own && message->type == 'D') {
      rows.add_data_row(message->body);
    }
  }
  awaiting_new_ = false;
  const char* reason = new_read_timed_out_ ? "timeout" : lost ? "connection" : nullptr;
  if (reason != nullptr || !error.empty()) {
    log::warn(frame.shadow_read ? "shadow_read_failed" : "mirror_failed",
              {{"conn", id_},
               {"fingerprint", log::hex(unit.fingerprint)},
               {"reason", reason != nullptr ? reason : "error"},
               {"error", error}});
    if (reason != nullptr) drop_new(reason);
    if (new_status_ != 'I') mirror_broken_ = "an earlier write of the transaction failed on new";
    co_return counted(reason != nullptr && frame.ends_transaction ? MirrorOutcome::kUncertain
                                                                  : MirrorOutcome::kNotApplied);
  }
  mirror_applied_ = true;
  context_.metrics.backend_duration(
      database_of(router::Backend::kNew),
      std::chrono::duration<double>(Clock::now() - new_read_started_).count());
  if (old_answer != nullptr && context_.comparator != nullptr) {
    compare({old_answer->tags, old_answer->rows, old_answer->rows_digest},
            {std::move(tags), rows.rows(), rows.digest()}, unit, mirror_unpinned_,
            frame.shadow_read);
  }
  co_return counted(MirrorOutcome::kApplied);
}

// Ends new's transaction after old's ended outside a mirrored unit's normal path: COMMIT when
// old committed and new has all of the transaction, ROLLBACK otherwise.
asio::awaitable<Session::MirrorOutcome> Session::end_mirror_transaction(bool commit) {
  const bool broken = !mirror_broken_.empty();
  mirror_broken_ = {};
  if (!new_ready_ || new_status_ == 'I') co_return MirrorOutcome::kApplied;  // nothing open
  std::string message;
  append_query(message, commit && !broken ? "COMMIT" : "ROLLBACK");
  router::Classification unit{.kind = router::Kind::kTransaction, .controls_transaction = true};
  unit.fingerprint = router::fingerprint(commit ? "COMMIT" : "ROLLBACK");
  MirrorOutcome outcome = co_await run_on_mirror(
      message, {.ends_transaction = commit && !broken, .own = true}, unit, nullptr);
  mirror_broken_ = {};
  co_return outcome;
}

// The ReadyForQuery that ends a mirrored unit for the client, written the way new's answers
// are (never in the middle of something old's relay is writing).
asio::awaitable<bool> Session::send_ready(char status) {
  if (status == 'I') mirror_broken_ = {};
  std::string ready;
  protocol::encode(protocol::ReadyForQuery{status}, ready);
  co_await hold_client_writes();
  bool sent = co_await relay_to_client(ready);
  release_client_writes();
  if (!sent) co_return false;
  last_activity_ = Clock::now();
  co_return true;
}

// Hands both answers to the comparator (off the client's path; a full queue counts a drop).
// `on_backend` is what backend_ answered, `on_other` new_backend_: named by database there.
void Session::compare(verify::WriteAnswer on_backend, verify::WriteAnswer on_other,
                      const router::Classification& unit, bool nondeterministic, bool shadow_read) {
  verify::WritePair pair{.fingerprint = unit.fingerprint,
                         .connection_id = id_,
                         .unix_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                                        std::chrono::system_clock::now().time_since_epoch())
                                        .count(),
                         .nondeterministic = nondeterministic,
                         .shadow_read = shadow_read,
                         .old_side = std::move(on_backend),
                         .new_side = std::move(on_other)};
  if (primary_ == router::Backend::kNew) std::swap(pair.old_side, pair.new_side);
  context_.comparator->submit(std::move(pair));
}

}  // namespace cutover::proxy
