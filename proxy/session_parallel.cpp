// mirror.ordering: parallel. A write goes to new and to old at once, so the client waits for
// the slower of the two instead of both in turn; the client still gets old's answer only, and
// its next unit waits until new has answered this one too.
//
// What it gives up (and strict ordering holds): the order of conflicting writes. Two sessions
// writing the same row may reach its lock in one order on old and in the other on new, so the
// last writer, a counter's sum seen by a later UPDATE ... SET v = v + 1 aside, can differ
// between the two: the comparator reports it when RETURNING rows differ, the background
// verification otherwise. Two transactions may also deadlock on one side only (the loser is
// rolled back there: on old the client sees it; on new the transaction is journaled).
//
// What it keeps: nothing old refuses stays on new. An autocommit write runs in cutover's
// transaction on new only, committed there once old's answer says the write stood (or rolled
// back); a statement old refuses inside a transaction, which new may have run, breaks new's
// copy of the transaction (the rest is skipped, new rolls back), so that if old commits it
// anyway (after ROLLBACK TO SAVEPOINT) the whole transaction is journaled without the refused
// statement, as when new fails. COMMIT, ROLLBACK and other transaction control, DDL, session
// state and statements that refuse transaction blocks (VACUUM) run as in strict ordering.
#include "proxy/log.h"
#include "proxy/mirror_messages.h"
#include "proxy/session.h"

namespace cutover::proxy {

bool Session::runs_parallel(const router::Classification& unit) const {
  using router::Kind;
  return config_.migration.mirror.ordering == MirrorOrdering::kParallel &&
         (unit.kind == Kind::kWrite || unit.kind == Kind::kUnknown) && !unit.controls_transaction &&
         !unit.refuses_transaction_block;
}

asio::awaitable<bool> Session::mirror_unit_parallel(std::string_view old_prefix,
                                                    std::string_view for_old,
                                                    std::string_view for_new,
                                                    std::string_view for_journal,
                                                    const router::Classification& unit,
                                                    const std::vector<int>& own_parses) {
  const bool autocommit = transaction_status_ == 'I';
  co_await join_mirror_transaction(unit);
  reserve_journal_place(autocommit);
  std::string begin;
  if (autocommit) append_query(begin, "BEGIN");
  // new first, without waiting for it.
  MirrorFrame frame{.begin = autocommit};
  std::string to_new = begin;
  to_new.append(for_new);
  frame.ask_transaction_id = new_transaction_id_ == 0 && (autocommit || new_status_ == 'T');
  if (frame.ask_transaction_id) append_query(to_new, kAskTransactionId);
  const MirrorSend sent = co_await send_to_mirror(to_new, unit);
  // Then old, its ReadyForQuery held until new has answered.
  if (!old_prefix.empty()) old_filter_.drop_parse_complete(0, 0);
  for (const int parses_before : own_parses) {
    old_filter_.drop_parse_complete(0, parses_before + (old_prefix.empty() ? 0 : 1),
                                    &own_parses_taken_out_);
  }
  old_filter_.hold_ready(0, false);
  std::string to_old(old_prefix);
  to_old.append(for_old);
  auto answer = co_await run_on_old(to_old, 1);
  if (!answer) co_return false;
  const bool refused = !answer->sqlstate.empty();
  MirrorOutcome outcome = co_await await_mirror(sent, frame, unit, refused ? nullptr : &*answer);
  if (!refused) {
    mirror_txn_units_.append(begin);
    mirror_txn_units_.append(for_journal);
    note_mirror(outcome, unit);
  } else if (!autocommit && outcome == MirrorOutcome::kApplied) {
    mirror_broken_ = "old refused a statement new ran";
    note_mirror(MirrorOutcome::kNotApplied, unit);
  }
  if (!autocommit) {
    if (answer->status != 'I' && mirror_txn_ != nullptr) mirror_txn_->release();
    co_return co_await send_ready(answer->status);
  }
  // cutover's transaction on new ends the way the write ended on old.
  if (!refused) {
    std::string commit;
    append_query(commit, "COMMIT");
    mirror_txn_units_.append(commit);
  }
  const MirrorOutcome ended = co_await end_mirror_transaction(!refused);
  if (!refused) note_mirror(ended, unit);  // a ROLLBACK new missed leaves nothing behind
  const bool settled = co_await settle_mirror_transaction(!refused);
  if (!settled) co_return false;
  co_return co_await send_ready(answer->status);
}

}  // namespace cutover::proxy
