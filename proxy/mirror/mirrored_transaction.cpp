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
  source_transaction_id_ = 0;
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

asio::awaitable<ErrorCode> MirroredTransaction::write_intent(std::string_view committing,
                                                             const SessionStateLog& session_state) {
  // New ran all of it so far: if cutover stops before new's commit, replay asks new first.
  const Outcome outcome = lost_ ? *lost_ : Outcome::kMayHaveApplied;
  auto intent = record(outcome, units_, committing, session_state, state_before_);
  if (!intent) co_return SessionError::kTransactionTooLarge;
  intent->source_transaction_id = source_transaction_id_;
  // Where new has all of it so far, the intent guards against cutover's own process dying
  // between the two commits: written to the file, not synced (settle() syncs it if new then
  // misses the commit; see docs/mirroring.md).
  const auto durability =
      lost_ ? MirrorJournal::Durability::kSynced : MirrorJournal::Durability::kWritten;
  intent_ = co_await journal_->write_intent(std::move(*intent), durability);
  if (intent_ == 0) co_return SessionError::kJournalUnwritable;
  written_lost_ = lost_.has_value();
  if (lost_) log_journaled(intent_, *lost_, place_.get());
  co_return ErrorCode{};
}

void MirroredTransaction::keep_state(std::string_view unit, size_t log_units) {
  if (units_.bytes().empty()) return;  // no transaction yet: the state it starts with
  if (state_before_ == kAllState) state_before_ = log_units > 0 ? log_units - 1 : 0;
  units_.append(unit);
}

asio::awaitable<void> MirroredTransaction::still_open() {
  if (place_ != nullptr) place_->release();
  const uint64_t intent = std::exchange(intent_, 0);
  if (intent == 0) co_return;
  // Old's id would say "committed" once a later unit commits it: this intent must say no, on
  // disk (journal_marker_not_written when it cannot).
  const bool settled = co_await journal_->settle_intent(intent, false, true);
  static_cast<void>(settled);  // true: nothing was to be synced
}

asio::awaitable<ErrorCode> MirroredTransaction::settle(bool committed,
                                                       const SessionStateLog& session_state) {
  const auto lost = std::exchange(lost_, std::nullopt);
  const KeptMessages units = std::exchange(units_, {});
  const size_t state_before = std::exchange(state_before_, kAllState);
  // Counted as open until its record is durable (the hand-over waits for that); a reserved
  // place not used is given back when it goes.
  const auto place = std::move(place_);
  const uint64_t intent = std::exchange(intent_, 0);
  wrote_ = false;
  if (intent != 0) {
    const bool replay = committed && lost.has_value();
    // New missed its commit (the intent was written while new had all of it): replayed after all.
    if (replay && !written_lost_) log_journaled(intent, *lost, place.get());
    const bool durable =
        co_await journal_->settle_intent(intent, replay, source_transaction_id_ == 0);
    if (!durable) co_return SessionError::kJournalUnwritable;  // old committed it already
    co_return ErrorCode{};
  }
  if (!committed || !lost || journal_ == nullptr) co_return ErrorCode{};
  auto written = record(*lost, units, {}, session_state, state_before);
  if (!written) {
    log::error("mirror_transaction_not_journaled",
               {{"conn", conn_id_}, {"reason", "transaction larger than 64 MB"}});
    co_return SessionError::kTransactionTooLarge;
  }
  const uint64_t reserved = place != nullptr ? place->take_reservation() : 0;
  const uint64_t sequence = co_await journal_->write(std::move(*written), reserved);
  if (sequence == 0) co_return SessionError::kJournalUnwritable;  // the journal logged why
  log_journaled(sequence, *lost, place.get());
  co_return ErrorCode{};
}

std::optional<verify::JournalRecord> MirroredTransaction::record(
    Outcome lost, const KeptMessages& units, std::string_view committing,
    const SessionStateLog& session_state, size_t state_before) const {
  if (units.overflowed() || units.bytes().size() + committing.size() > KeptMessages::kMaxBytes) {
    return std::nullopt;
  }
  verify::JournalRecord out{
      .outcome = lost,
      .unix_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                     std::chrono::system_clock::now().time_since_epoch())
                     .count(),
      .connection_id = conn_id_,
      .fingerprint = fingerprint_,
      .mirror_transaction_id = lost == Outcome::kMayHaveApplied ? new_transaction_id_ : 0,
      .database = database_,
      .user = user_};
  // Run on a fresh connection, the unit needs the session's settings first: those set before
  // the transaction (the later ones are among its units).
  out.unit += session_state.joined(state_before);
  out.unit += units.bytes();
  out.unit += committing;
  return out;
}

void MirroredTransaction::log_journaled(uint64_t sequence, Outcome lost,
                                        const MirrorJournal::Transaction* place) const {
  // While new is behind every transaction is journaled: not worth a line each.
  const auto level = place != nullptr && place->route() == MirrorJournal::Route::kJournal
                         ? log::Level::kDebug
                         : log::Level::kWarn;
  if (!log::enabled(level)) return;
  log::write(level, "mirror_journaled",
             {{"conn", conn_id_},
              {"sequence", sequence},
              {"outcome", lost == Outcome::kMayHaveApplied ? "may_have_applied" : "did_not_apply"},
              {"fingerprint", log::hex(fingerprint_)},
              {"new_transaction_id", new_transaction_id_}});
}

}  // namespace cutover::proxy
