// The client's current transaction as the mirror keeps it: its mirrored units (self-contained,
// for the journal), whether new missed any of them and how (did not apply, or may have), its
// place in the journal's view (live on new, or journaled whole while new is behind, with a
// place reserved around old's commit), and new's id for it. When old commits a transaction new
// missed part of, settle() writes its journal record, durably, before the client may hear of
// the commit. Not the running of units on either side (session_mirror.cpp) nor the replay
// (migration/journal_replay.h).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "proxy/link/kept_messages.h"
#include "proxy/link/session_state_log.h"
#include "proxy/migration/mirror_journal.h"
#include "proxy/net/asio.h"
#include "verify/journal.h"

namespace cutover::proxy {

// What became of a mirrored unit on new.
enum class MirrorOutcome { kApplied, kNotApplied, kUncertain };

class MirroredTransaction {
 public:
  // `journal`: null when mirroring has no journal (no record is ever written).
  MirroredTransaction(MirrorJournal* journal, uint64_t conn_id, const std::string& database,
                      const std::string& user)
      : journal_(journal), conn_id_(conn_id), database_(database), user_(user) {}

  // A mirrored unit is about to run (`in_transaction`: the client's transaction was open
  // before it). The first of a transaction decides how it is mirrored: live on new or, while
  // new is behind, journaled whole. True when this unit began a journaled transaction: none
  // of it may go to new.
  asio::awaitable<bool> join(uint64_t fingerprint, bool in_transaction);
  // Old is about to run what may commit it: if new missed part of it, its place in the
  // journal is taken first, so a transaction that old's commit unblocks is journaled after.
  void reserve(bool may_commit);
  // What became of a unit of it on new.
  void note(MirrorOutcome outcome, uint64_t fingerprint);
  // Units of it, as new is to run them on a fresh connection.
  void keep(std::string_view units) { units_.append(units); }
  // Old's transaction is still open after a unit that could have ended it.
  void still_open() {
    if (place_ != nullptr) place_->release();
  }
  uint64_t new_transaction_id() const { return new_transaction_id_; }
  void set_new_transaction_id(uint64_t id) { new_transaction_id_ = id; }

  // The transaction ended on old. If old committed it and new missed part of it, its record
  // (after the session state, the units a fresh connection needs first) is written to the
  // journal before this returns; a SessionError when that failed (the commit must not be
  // acknowledged). Either way the next unit starts a new transaction.
  asio::awaitable<ErrorCode> settle(bool committed, const SessionStateLog& session_state);

 private:
  MirrorJournal* journal_;
  const uint64_t conn_id_;
  const std::string& database_;
  const std::string& user_;
  std::unique_ptr<MirrorJournal::Transaction> place_;
  KeptMessages units_;
  std::optional<verify::JournalRecord::Outcome> lost_;
  uint64_t fingerprint_ = 0;         // of the first unit new missed
  uint64_t new_transaction_id_ = 0;  // new's id for its open transaction, once asked (0: unknown)
};

}  // namespace cutover::proxy
