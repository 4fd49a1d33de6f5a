// Fail closed: a transaction new needs from the mirror journal (new is behind, or new missed
// part of it) is journaled before old is asked to commit it, so a commit the journal cannot
// take is refused instead of sent. (Every other transaction that wrote is journaled there too,
// while the journal can be written, so that a cutover stopped between old's commit and new's
// leaves a record replay settles by asking both.) A refused commit: old rolls the transaction back
// and the client gets the error (53100 when the journal's disk refuses, 54000 when the transaction
// is too large), as from a COMMIT the server itself refused. While the journal cannot be written,
// writes that would need it are refused before old runs them; they resume by themselves once the
// disk takes a write again (MirrorJournal::writable()).
#include <cstdlib>

#include "proxy/auth/backend_login.h"
#include "proxy/base/log.h"
#include "proxy/mirror/mirror.h"
#include "proxy/mirror/mirror_messages.h"
#include "proxy/mirror/session_error.h"

namespace cutover::proxy {

// Verification holds commits for the moment it takes a snapshot of each side (a few
// milliseconds); a hold that somehow lasts longer than this delays a commit no further.
constexpr auto kLongestHold = std::chrono::seconds(1);

asio::awaitable<void> Mirror::admit_commit() {
  auto ticket = co_await context_.commits.admit(kLongestHold);
  committing_ = std::move(ticket);
}

std::optional<router::Refusal> Mirror::journal_refusal(const router::Classification& unit) {
  MirrorJournal* journal = context_.journal.get();
  if (journal == nullptr || unit.kind == router::Kind::kTransaction) return std::nullopt;
  if (!transaction_.owes_journal() && !journal->holds_records()) return std::nullopt;
  if (journal->writable()) return std::nullopt;
  router::Refusal refusal = router::journal_refusal(router::RefusalReason::kJournalUnwritable,
                                                    context_.config.verify.journal_dir);
  note_refused(refusal, unit);
  return refusal;
}

asio::awaitable<std::optional<router::Refusal>> Mirror::journal_first(
    std::string_view committing, const router::Classification& unit) {
  if (!transaction_.journals_commit()) co_return std::nullopt;
  // New has all of it so far: the intent is only a safeguard against a crash between the two
  // commits, not worth refusing the commit for.
  const bool needed = transaction_.owes_journal();
  if (!needed && !context_.journal->writable()) co_return std::nullopt;
  // Old's id for the transaction, so that replay can ask old whether it committed if cutover
  // stops before the answer (none yet when the committing unit itself is the first write).
  // Usually asked with its first write already (asks_source_id()).
  if (transaction_.source_transaction_id() == 0 && primary_.status != 'I') {
    const std::optional<HeldAnswer> answer = co_await host_.query_own(kAskTransactionId);
    if (answer) note_source_id(*answer);
  }
  const ErrorCode failed = co_await transaction_.write_intent(committing, new_side_.state());
  if (!failed || !needed) co_return std::nullopt;
  const bool too_large = failed == make_error_code(SessionError::kTransactionTooLarge);
  log::error("mirror_commit_refused", {{"conn", conn_id_},
                                       {"reason", too_large ? "transaction larger than 64 MB"
                                                            : "the journal cannot be written"}});
  const auto reason = too_large ? router::RefusalReason::kTransactionTooLarge
                                : router::RefusalReason::kJournalUnwritable;
  router::Refusal refusal = router::journal_refusal(reason, context_.config.verify.journal_dir);
  note_refused(refusal, unit);
  co_return refusal;
}

// Whether old is asked for its id for the transaction after this unit: a write in a
// transaction (cutover's, or the client's) whose id is not known yet, while a journal is kept.
bool Mirror::asks_source_id(const router::Classification& unit, bool wrap) const {
  return context_.journal != nullptr && transaction_.source_transaction_id() == 0 &&
         unit.kind != router::Kind::kTransaction && !unit.controls_transaction &&
         (wrap || primary_.status == 'T');
}

void Mirror::note_source_id(const HeldAnswer& answer) {
  if (!answer.sqlstate.empty() || answer.data_rows.empty()) return;
  const std::optional<std::string> id = first_column(answer.data_rows.front());
  if (id) transaction_.set_source_transaction_id(std::strtoull(id->c_str(), nullptr, 10));
}

// Old raises the refusal in place of the commit; a transaction block is then rolled back by
// cutover, so the client ends idle, as after a COMMIT the server refused; new rolls back too.
asio::awaitable<bool> Mirror::refuse_commit(const router::Refusal& refusal) {
  refused_ = true;
  std::string to_old;
  append_query(to_old, router::raising_statement(refusal));
  primary_.filter.hold_ready(0, {.error_edit = without_context});
  const std::optional<HeldAnswer> answer = co_await host_.run_on_old(to_old, 1);
  if (!answer) co_return false;
  if (answer->status != 'I') {
    std::string rollback;
    append_query(rollback, "ROLLBACK");
    const bool rolled_back = co_await host_.run_own(rollback);
    if (!rolled_back) co_return false;
  }
  co_await end_new_transaction(false);
  const bool settled = co_await settle(false);
  if (!settled) co_return false;
  const bool sent = co_await send_ready('I');
  co_return sent;
}

}  // namespace cutover::proxy
