// The client's current transaction as the mirror keeps it: its mirrored units (self-contained,
// for the journal), whether new missed any of them and how (did not apply, or may have), its
// place in the journal's view (live on new, or journaled whole while new is behind), and new's
// id for it. Before old is asked to commit a transaction new missed part of, write_intent()
// makes its journal record durable, so a commit that cannot be journaled is never sent; settle()
// then marks what old did with it. Where old commits before cutover learns new missed part
// (a batch old ran in pieces), settle() writes the record after old's commit, in a place
// reserved before it. Not the running of units on either side (session_mirror.cpp) nor the replay
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
  // Whether new missed part of the transaction: its commit must be journaled first.
  bool owes_journal() const { return journal_ != nullptr && lost_.has_value(); }
  // A unit of it wrote (or may have: not a transaction statement).
  void wrote() { wrote_ = true; }
  // Whether its commit is journaled first: new missed part of it or, as a safeguard against
  // cutover stopping between old's commit and new's, it wrote.
  bool journals_commit() const { return journal_ != nullptr && (lost_.has_value() || wrote_); }
  // Old is about to be asked to commit it (`committing`: the unit that will, as new should run
  // it): its record, with old's id for it when known, the units so
  // far and `committing` after the session state, is made durable first; may-have-applied
  // while new ran all of it (replay then asks new). An error when it cannot be
  // (kJournalUnwritable, kTransactionTooLarge): if new missed part of it, the commit must not
  // be sent.
  asio::awaitable<ErrorCode> write_intent(std::string_view committing,
                                          const SessionStateLog& session_state);
  // Old's id for the transaction (txid_current_if_assigned()), once asked; 0: not known.
  uint64_t source_transaction_id() const { return source_transaction_id_; }
  void set_source_transaction_id(uint64_t id) { source_transaction_id_ = id; }
  // What became of a unit of it on new.
  void note(MirrorOutcome outcome, uint64_t fingerprint);
  // Units of it, as new is to run them on a fresh connection.
  void keep(std::string_view units) { units_.append(units); }
  // Session state the client set (SET, ...; `log_units`: the session's state log holds that
  // many units now, this one last). Inside the transaction it is kept in its place among the
  // units, and the record's prefix is the state as it was before, so replay runs each unit
  // under the settings it ran with. Before the transaction it is only part of that prefix.
  void keep_state(std::string_view unit, size_t log_units);
  // Old's transaction is still open after a unit that could have ended it: a reserved place
  // is given back, an intent is marked not committed (a later one will hold it all).
  asio::awaitable<void> still_open();
  uint64_t new_transaction_id() const { return new_transaction_id_; }
  void set_new_transaction_id(uint64_t id) { new_transaction_id_ = id; }

  // The transaction ended on old. Its intent, if written, is marked with what old did. Else, if
  // old committed it and new missed part of it, its record (after the session state, the
  // units a fresh connection needs first) is written to the journal before this returns; a
  // SessionError when that failed (the commit must not be acknowledged). Either way the next
  // unit starts a new transaction.
  asio::awaitable<ErrorCode> settle(bool committed, const SessionStateLog& session_state);

 private:
  MirrorJournal* journal_;
  const uint64_t conn_id_;
  const std::string& database_;
  const std::string& user_;
  std::unique_ptr<MirrorJournal::Transaction> place_;
  KeptMessages units_;
  // The record of `units`, `committing` last; nullopt when too large.
  std::optional<verify::JournalRecord> record(verify::JournalRecord::Outcome lost,
                                              const KeptMessages& units,
                                              std::string_view committing,
                                              const SessionStateLog& session_state,
                                              size_t state_before) const;
  void log_journaled(uint64_t sequence, verify::JournalRecord::Outcome lost,
                     const MirrorJournal::Transaction* place) const;

  std::optional<verify::JournalRecord::Outcome> lost_;
  // The session state log's units before the first state set inside the transaction.
  static constexpr size_t kAllState = static_cast<size_t>(-1);
  size_t state_before_ = kAllState;
  bool wrote_ = false;
  bool written_lost_ = false;           // its intent was written after new missed part of it
  uint64_t intent_ = 0;                 // the sequence of its intent, once written
  uint64_t source_transaction_id_ = 0;  // old's id for the transaction (0: not known)
  uint64_t fingerprint_ = 0;            // of the first unit new missed
  uint64_t new_transaction_id_ = 0;  // new's id for its open transaction, once asked (0: unknown)
};

}  // namespace cutover::proxy
