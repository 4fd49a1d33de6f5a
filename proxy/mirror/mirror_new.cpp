// A mirrored unit's side on new: sent there (or skipped, when new is down or its copy of the
// transaction is broken), new's answer read within migration.mirror.timeout_ms and handed to
// the comparator with old's, and new's transaction ended the way old's did.
// Not the unit's side on old (mirror.cpp).
#include <cstdlib>
#include <utility>

#include "proxy/base/log.h"
#include "proxy/mirror/mirror.h"
#include "proxy/mirror/mirror_messages.h"
#include "router/pinning.h"

namespace cutover::proxy {

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
asio::awaitable<MirrorOutcome> Mirror::run_on_new(std::string_view messages, Frame frame,
                                                  const router::Classification& unit,
                                                  const HeldAnswer* old_answer) {
  const Send sent = co_await send_to_new(messages, unit);
  const MirrorOutcome outcome = co_await await_new(sent, frame, unit, old_answer);
  co_return outcome;
}

// The first half of run_on_new(): the unit goes to new, unless new is down or its
// transaction broke (skipped: logged, and the rest of the transaction is skipped too).
asio::awaitable<Mirror::Send> Mirror::send_to_new(std::string_view messages,
                                                  const router::Classification& unit,
                                                  bool pipelined) {
  if (broken_ == MirrorBreak::kJournaled) co_return Send::kSkipped;
  // Pipelined (parallel ordering): what new owes for earlier writes is read later.
  const bool drained = pipelined && new_side_.drained();
  const bool ready =
      new_side_.ready() && broken_ == MirrorBreak::kNone && (drained || co_await drain_new());
  if (!ready) {
    log::warn(
        "mirror_skipped",
        {{"conn", conn_id_},
         {"fingerprint", log::hex(unit.fingerprint)},
         {"reason", broken_ == MirrorBreak::kNone ? std::string_view("new down") : why(broken_)}});
    // The rest of the transaction must not reach new either, even once new is back: there it
    // would run without what came before (outside any transaction, after a skipped BEGIN).
    if (broken_ == MirrorBreak::kNone) broken_ = MirrorBreak::kEarlierSkipped;
    co_return Send::kSkipped;
  }
  // New must have every commit old's answer to the unit may have seen (CommitFence).
  const uint64_t seen = std::exchange(seen_commits_, 0);
  if (seen != 0 && unit.kind != router::Kind::kTransaction) {
    const bool caught_up =
        co_await context_.commits.wait(seen, committing_.number(), context_.live.mirror_timeout());
    if (!caught_up) {
      log::warn("mirror_commit_wait_timeout",
                {{"conn", conn_id_}, {"fingerprint", log::hex(unit.fingerprint)}});
    }
  }
  const ErrorCode ec = co_await new_side_.send(messages);
  co_return ec ? Send::kLost : Send::kSent;
}

// The second half: new's answer to what send_to_new() sent, and its comparison.
asio::awaitable<MirrorOutcome> Mirror::await_new(Send sent, Frame frame,
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
  if (sent == Send::kSkipped) co_return counted(MirrorOutcome::kNotApplied);
  new_side_.begin_wait(context_.live.mirror_timeout());
  std::vector<std::string> tags;
  verify::RowSetHasher rows;
  verify::RowEffects effects;
  size_t execute = 0;  // whose answer new's messages are
  std::string error;
  bool lost = sent == Send::kLost;
  protocol::ProtocolError frame_error{};
  const int replies = 1 + (frame.begin ? 1 : 0) + (frame.ask_transaction_id ? 1 : 0);
  int units = replies;
  while (!lost && units > 0) {
    auto message = co_await new_side_.next(frame_error);
    // The answer to cutover's BEGIN (the first) or its transaction id query (the last).
    const bool own = (frame.begin && units == replies) || (frame.ask_transaction_id && units == 1);
    if (!message) {
      lost = true;
    } else if (message->type == 'E' && error.empty()) {
      error = error_message(*message);
    } else if (message->type == 'Z') {
      if (--units == 0) secondary_.status = message->body.empty() ? 'I' : message->body[0];
    } else if (own && message->type == 'D') {
      const auto id = first_column(message->body);  // NULL: none assigned yet
      transaction_.set_new_transaction_id(id ? std::strtoull(id->c_str(), nullptr, 10) : 0);
    } else if (!own && message->type == 'C') {
      tags.emplace_back(message->body.substr(0, message->body.find('\0')));
      ++execute;
    } else if (!own && (message->type == 'I' || message->type == 's')) {
      ++execute;  // an Execute's answer ends without a tag
    } else if (!own && message->type == 'D') {
      add_new_row(frame.witnessed != nullptr ? frame.witnessed->of(execute) : Witnessing::Execute{},
                  message->body, rows, effects);
    }
  }
  const bool timed_out = new_side_.end_wait();
  const char* reason = timed_out ? "timeout" : lost ? "connection" : nullptr;
  if (reason != nullptr || !error.empty()) {
    log::warn(frame.shadow_read ? "shadow_read_failed" : "mirror_failed",
              {{"conn", conn_id_},
               {"fingerprint", log::hex(unit.fingerprint)},
               {"reason", reason != nullptr ? reason : "error"},
               {"error", error}});
    if (reason != nullptr) new_side_.drop(reason);
    if (secondary_.status != 'I') broken_ = MirrorBreak::kEarlierFailed;
    co_return counted(reason != nullptr && frame.ends_transaction ? MirrorOutcome::kUncertain
                                                                  : MirrorOutcome::kNotApplied);
  }
  applied_ = true;
  context_.metrics.backend_duration(secondary_.database,
                                    std::chrono::duration<double>(new_side_.waited()).count());
  if (old_answer != nullptr && context_.comparator != nullptr) {
    verify::RowEffects old_effects;
    const bool witnessed = frame.witnessed != nullptr && frame.witnessed->any();
    if (witnessed) old_effects = effects_of(*old_answer, *frame.witnessed);
    compare({old_answer->tags, old_answer->rows, old_answer->rows_digest, std::move(old_effects)},
            {std::move(tags), rows.rows(), rows.digest(), std::move(effects)}, unit, frame.unpinned,
            frame.shadow_read, witnessed ? frame.witnessed->table : std::string());
  }
  co_return counted(MirrorOutcome::kApplied);
}

// Ends new's transaction after old's ended outside a mirrored unit's normal path: COMMIT when
// old committed and new has all of the transaction, ROLLBACK otherwise.
asio::awaitable<MirrorOutcome> Mirror::end_new_transaction(bool commit) {
  const bool broken = broken_ != MirrorBreak::kNone;
  broken_ = MirrorBreak::kNone;
  if (!new_side_.ready() || secondary_.status == 'I') {
    co_return MirrorOutcome::kApplied;  // nothing open
  }
  std::string message;
  append_query(message, commit && !broken ? "COMMIT" : "ROLLBACK");
  router::Classification unit{.kind = router::Kind::kTransaction, .controls_transaction = true};
  unit.fingerprint = router::fingerprint(commit ? "COMMIT" : "ROLLBACK");
  MirrorOutcome outcome = co_await run_on_new(
      message, {.ends_transaction = commit && !broken, .own = true}, unit, nullptr);
  broken_ = MirrorBreak::kNone;
  co_return outcome;
}

}  // namespace cutover::proxy
