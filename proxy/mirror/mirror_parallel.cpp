// mirror.ordering: parallel. Inside a transaction, a write runs on old and the client gets
// old's answer at once; new runs the same write meanwhile, pipelined on its connection, while
// the client goes on with its next statement on old. Before anything that could end the
// transaction reaches old (COMMIT, ROLLBACK, any unit mirrored in strict ordering) new's
// answers are all awaited and compared. So old commits only after new has executed the whole
// transaction and holds its row locks, as in strict ordering: conflicting writes still apply
// in the same order on both. What it changes: the client waits for new once per transaction
// instead of once per statement, and a statement new fails is noticed a little later (the
// rest of the transaction is then journaled, as in strict ordering). Autocommit writes, DDL,
// session state and transaction control run in strict ordering.
//
// Why not send each write to both at once: two sessions updating the same row could each get
// its lock first on a different database, each then waiting for the other on the second one,
// a deadlock neither database can see; only the mirror timeout would end it. Measured on
// pgbench tpcb-like at -c 16 (two branch rows): 6.8 transactions per second.
#include "proxy/base/log.h"
#include "proxy/mirror/mirror.h"
#include "proxy/mirror/mirror_messages.h"

namespace cutover::proxy {

bool Mirror::runs_parallel(const router::Classification& unit) const {
  using router::Kind;
  return context_.config.migration.mirror.ordering == MirrorOrdering::kParallel &&
         !runs_by_effect() && primary_.status == 'T' &&
         (unit.kind == Kind::kWrite || unit.kind == Kind::kUnknown) && !unit.controls_transaction &&
         !unit.refuses_transaction_block;
}

// A write inside a transaction (old owes nothing): old runs it, new gets it without waiting
// for its answer, and the client gets old's ReadyForQuery.
asio::awaitable<bool> Mirror::unit_parallel(std::string_view old_prefix, std::string_view for_old,
                                            std::string_view for_new, std::string_view for_journal,
                                            const router::Classification& unit,
                                            const std::vector<int>& own_parses) {
  constexpr size_t kMaxPending = 64;  // answers new may owe before the client waits for them
  co_await join(unit);
  if (!old_prefix.empty()) primary_.filter.drop_parse_complete(0, 0);
  for (const int parses_before : own_parses) {
    primary_.filter.drop_parse_complete(0, parses_before + (old_prefix.empty() ? 0 : 1),
                                        &own_parses_taken_out_);
  }
  primary_.filter.hold_ready(0, holding());
  std::string to_old(old_prefix);
  to_old.append(for_old);
  auto answer = co_await host_.run_on_old(to_old, 1);
  if (!answer) co_return false;
  old_answered();
  const char status = answer->status;
  if (!answer->sqlstate.empty()) co_return co_await send_ready(status);  // new never sees it
  transaction_.keep(for_journal);
  transaction_.wrote();
  std::string to_new(for_new);
  // Until new's transaction has an id, ask for it with the first write (see run_on_mirror()).
  Frame frame{.ask_transaction_id = transaction_.new_transaction_id() == 0 && pending_.empty(),
              .unpinned = pinner_.unpinned()};
  if (frame.ask_transaction_id) append_query(to_new, kAskTransactionId);
  if (!pinner_.unsafe().empty()) note_unpinned_write(unit);
  const Send sent = co_await send_to_new(to_new, unit, true);
  if (sent == Send::kSkipped) {
    transaction_.note(MirrorOutcome::kNotApplied, unit.fingerprint);
  } else {
    pending_.push_back(
        {sent, new_side_.generation(), frame, unit, std::move(*answer), witnessing()});
  }
  if (pending_.size() >= kMaxPending) co_await settle_pending();
  co_return co_await send_ready(status);
}

// new's answers to the writes sent ahead, in order, each compared with old's and noted.
asio::awaitable<void> Mirror::settle_pending() {
  while (!pending_.empty()) {
    Pending pending = std::move(pending_.front());
    pending_.pop_front();
    // Sent before new's connection was lost: its answer went with it.
    if (pending.generation != new_side_.generation()) pending.sent = Send::kLost;
    pending.frame.witnessed = &pending.witnessed;
    const MirrorOutcome outcome =
        co_await await_new(pending.sent, pending.frame, pending.unit, &pending.old_answer);
    transaction_.note(outcome, pending.unit.fingerprint);
  }
}

}  // namespace cutover::proxy
