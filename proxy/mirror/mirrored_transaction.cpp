#include "proxy/mirror/mirrored_transaction.h"

#include <chrono>
#include <utility>

#include "proxy/base/log.h"
#include "proxy/mirror/session_error.h"

namespace cutover::proxy {

using Outcome = verify::JournalRecord::Outcome;

asio::awaitable<bool> MirroredTransaction::join(uint64_t fingerprint, bool in_transaction) {
  if (journal_ == nullptr) co_return false;
  if (place_ != nullptr && in_transaction) co_return false;  // decided by its first unit
  place_.reset();  // a transaction that ended without a mirrored unit seeing it end
  const auto route = co_await journal_->begin_transaction();
  place_ = std::make_unique<MirrorJournal::Transaction>(*journal_, route);
  new_transaction_id_ = 0;
  if (route != MirrorJournal::Route::kJournal) co_return false;
  lost_ = Outcome::kDidNotApply;
  fingerprint_ = fingerprint;
  co_return true;
}

void MirroredTransaction::reserve(bool may_commit) {
  if (may_commit && place_ != nullptr && lost_) place_->reserve();
}

void MirroredTransaction::note(MirrorOutcome outcome, uint64_t fingerprint) {
  if (outcome == MirrorOutcome::kApplied) return;
  if (place_ != nullptr && place_->route() == MirrorJournal::Route::kLive) {
    journal_->fall_behind("a mirrored write did not apply on new");
  }
  if (!lost_) fingerprint_ = fingerprint;
  const Outcome kind =
      outcome == MirrorOutcome::kUncertain ? Outcome::kMayHaveApplied : Outcome::kDidNotApply;
  if (!lost_ || kind == Outcome::kMayHaveApplied) lost_ = kind;
}

asio::awaitable<ErrorCode> MirroredTransaction::settle(bool committed,
                                                       const SessionStateLog& session_state) {
  const auto lost = std::exchange(lost_, std::nullopt);
  const KeptMessages units = std::exchange(units_, {});
  // Counted as open until its record is durable (the hand-over waits for that); a reserved
  // place not used is given back when it goes.
  const auto place = std::move(place_);
  if (!committed || !lost || journal_ == nullptr) co_return ErrorCode{};
  if (units.overflowed()) {
    log::error("mirror_transaction_not_journaled",
               {{"conn", conn_id_}, {"reason", "transaction larger than 64 MB"}});
    co_return SessionError::kTransactionTooLarge;
  }
  verify::JournalRecord record{
      .outcome = *lost,
      .unix_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                     std::chrono::system_clock::now().time_since_epoch())
                     .count(),
      .connection_id = conn_id_,
      .fingerprint = fingerprint_,
      .mirror_transaction_id = *lost == Outcome::kMayHaveApplied ? new_transaction_id_ : 0,
      .database = database_,
      .user = user_};
  // Run on a fresh connection, the unit needs the session's settings first.
  record.unit += session_state.joined();
  record.unit += units.bytes();
  const uint64_t reserved = place != nullptr ? place->take_reservation() : 0;
  const uint64_t sequence = co_await journal_->write(std::move(record), reserved);
  if (sequence == 0) co_return SessionError::kJournalUnwritable;  // the journal logged why
  // While new is behind every transaction is journaled: not worth a line each.
  const auto level = place != nullptr && place->route() == MirrorJournal::Route::kJournal
                         ? log::Level::kDebug
                         : log::Level::kWarn;
  if (!log::enabled(level)) co_return ErrorCode{};
  log::write(level, "mirror_journaled",
             {{"conn", conn_id_},
              {"sequence", sequence},
              {"outcome", *lost == Outcome::kMayHaveApplied ? "may_have_applied" : "did_not_apply"},
              {"fingerprint", log::hex(fingerprint_)},
              {"new_transaction_id", new_transaction_id_}});
  co_return ErrorCode{};
}

}  // namespace cutover::proxy
