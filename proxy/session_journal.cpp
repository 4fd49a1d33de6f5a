// The journal's side of mirroring: how each mirrored transaction is routed (live on new, or
// journaled while new is behind), its place in the journal reserved before old may commit it,
// and the record written, durably, before the client hears of a commit new missed.
// Not the running of units on either side (session_mirror.cpp) nor replay (mirror_journal.h).
#include "proxy/log.h"
#include "proxy/mirror_journal.h"
#include "proxy/session.h"

namespace cutover::proxy {

// A mirrored unit is about to run: the first of a transaction decides how that transaction is
// mirrored, live on new or, while new is behind, journaled whole (none of it goes to new).
asio::awaitable<void> Session::join_mirror_transaction(const router::Classification& unit) {
  if (context_.journal == nullptr) co_return;
  if (mirror_txn_ != nullptr && transaction_status_ != 'I') co_return;
  mirror_txn_.reset();  // a transaction that ended without a mirrored unit seeing it end
  const auto route = co_await context_.journal->begin_transaction();
  mirror_txn_ = std::make_unique<MirrorJournal::Transaction>(*context_.journal, route);
  new_transaction_id_ = 0;
  if (route == MirrorJournal::Route::kJournal) {
    mirror_broken_ = kJournaledRoute;
    mirror_txn_lost_ = verify::JournalRecord::Outcome::kDidNotApply;
    mirror_txn_fingerprint_ = unit.fingerprint;
  }
}

// Old is about to run what may commit a transaction new missed part of: its place in the
// journal is taken first, so a transaction that old's commit unblocks is journaled after it.
void Session::reserve_journal_place(bool may_commit) {
  if (may_commit && mirror_txn_ != nullptr && mirror_txn_lost_) mirror_txn_->reserve();
}

void Session::note_mirror(MirrorOutcome outcome, const router::Classification& unit) {
  if (outcome == MirrorOutcome::kApplied) return;
  if (mirror_txn_ != nullptr && mirror_txn_->route() == MirrorJournal::Route::kLive) {
    context_.journal->fall_behind("a mirrored write did not apply on new");
  }
  if (!mirror_txn_lost_) mirror_txn_fingerprint_ = unit.fingerprint;
  const auto kind = outcome == MirrorOutcome::kUncertain
                        ? verify::JournalRecord::Outcome::kMayHaveApplied
                        : verify::JournalRecord::Outcome::kDidNotApply;
  if (!mirror_txn_lost_ || kind == verify::JournalRecord::Outcome::kMayHaveApplied) {
    mirror_txn_lost_ = kind;
  }
}

// The transaction (or autocommit unit) ended on old. If old committed it and new missed part
// of it, it goes to the journal, durably, before the client is told; false when that failed
// (the client must then not be acknowledged: its connection is closed).
asio::awaitable<bool> Session::settle_mirror_transaction(bool committed) {
  const auto lost = std::exchange(mirror_txn_lost_, std::nullopt);
  const KeptMessages units = std::exchange(mirror_txn_units_, {});
  // Counted as open until its record is durable (the hand-over waits for that); a reserved
  // place not used is given back when it goes.
  const auto transaction = std::move(mirror_txn_);
  if (!committed || !lost || context_.journal == nullptr) co_return true;
  if (units.overflowed()) {
    log::error("mirror_transaction_not_journaled",
               {{"conn", id_}, {"reason", "transaction larger than 64 MB"}});
    co_return false;
  }
  verify::JournalRecord record{
      .outcome = *lost,
      .unix_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                     std::chrono::system_clock::now().time_since_epoch())
                     .count(),
      .connection_id = id_,
      .fingerprint = mirror_txn_fingerprint_,
      .mirror_transaction_id =
          *lost == verify::JournalRecord::Outcome::kMayHaveApplied ? new_transaction_id_ : 0,
      .database = database_,
      .user = user_};
  // Run on a fresh connection, the unit needs the session's settings first.
  for (const auto& state : session_log_) record.unit += state;
  record.unit += units.bytes();
  const uint64_t reserved = transaction != nullptr ? transaction->take_reservation() : 0;
  const uint64_t sequence = co_await context_.journal->write(std::move(record), reserved);
  if (sequence == 0) co_return false;  // the journal logged why
  // While new is behind every transaction is journaled: not worth a line each.
  const auto level =
      transaction != nullptr && transaction->route() == MirrorJournal::Route::kJournal
          ? log::Level::kDebug
          : log::Level::kWarn;
  if (!log::enabled(level)) co_return true;
  log::write(
      level, "mirror_journaled",
      {{"conn", id_},
       {"sequence", sequence},
       {"outcome", *lost == verify::JournalRecord::Outcome::kMayHaveApplied ? "may_have_applied"
                                                                            : "did_not_apply"},
       {"fingerprint", log::hex(mirror_txn_fingerprint_)},
       {"new_transaction_id", new_transaction_id_}});
  co_return true;
}

}  // namespace cutover::proxy
