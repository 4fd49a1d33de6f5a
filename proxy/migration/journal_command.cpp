#include "proxy/migration/journal_command.h"

#include <algorithm>

#include "proxy/auth/credentials.h"
#include "proxy/base/log.h"
#include "proxy/migration/divergence_ledger.h"
#include "proxy/migration/mirror_journal.h"
#include "verify/journal.h"
#include "verify/replay_checkpoint.h"

namespace cutover::proxy {
bool inspect_journal(const Config& config, std::ostream& out) {
  using Outcome = verify::JournalRecord::Outcome;
  const verify::JournalContents journal = verify::read_journal(config.verify.journal_dir);
  size_t may_have_applied = 0;
  size_t markers = 0;
  for (const auto& r : journal.records) {
    if (r.is_marker()) {
      ++markers;
      out << "sequence=" << r.sequence
          << " marker=" << (r.outcome == Outcome::kReplay ? "replay" : "skip")
          << " intent=" << r.resolves << "\n";
      continue;
    }
    const bool uncertain = r.outcome == Outcome::kMayHaveApplied;
    may_have_applied += uncertain;
    out << "sequence=" << r.sequence
        << " outcome=" << (uncertain ? "may_have_applied" : "did_not_apply")
        << " unix_ms=" << r.unix_ms << " conn=" << r.connection_id
        << " fingerprint=" << log::hex(r.fingerprint) << " mirror_xid=" << r.mirror_transaction_id
        << " intent=" << (r.intent ? 1 : 0) << " source_xid=" << r.source_transaction_id
        << " database=" << r.database << " user=" << r.user << " bytes=" << r.unit.size() << "\n";
  }
  size_t corrupt = 0;
  for (const auto& p : journal.problems) {
    const bool torn = p.kind == verify::JournalProblem::Kind::kTornTail;
    corrupt += !torn;
    out << "problem=" << (torn ? "torn_tail" : "corrupt") << " segment=" << p.segment.string()
        << " offset=" << p.offset << " bytes=" << p.bytes << "\n";
  }
  const size_t records = journal.records.size() - markers;
  const verify::ReplayCheckpoint checkpoint = verify::read_checkpoint(config.verify.journal_dir);
  const auto waiting = std::count_if(
      journal.records.begin(), journal.records.end(),
      [&](const auto& r) { return !r.is_marker() && r.sequence > checkpoint.through; });
  out << "journal=" << config.verify.journal_dir << " records=" << records
      << " did_not_apply=" << records - may_have_applied << " may_have_applied=" << may_have_applied
      << " corrupt=" << corrupt << " markers=" << markers
      << " replayed_through=" << checkpoint.through << " waiting=" << waiting << "\n";
  return corrupt == 0;
}

bool replay_journal(const Config& config, std::ostream& out) {
  DivergenceLedger divergences(config.verify.divergence_log);
  MirrorJournal journal(config, divergences);
  asio::io_context io;
  auto done = asio::co_spawn(io, journal.replay_all(load_secrets(config)), asio::use_future);
  io.run();
  const ReplayProgress progress = done.get();
  out << "journal=" << config.verify.journal_dir << " replayed=" << progress.replayed
      << " already_applied=" << progress.already_applied << " not_needed=" << progress.not_needed
      << " reported=" << progress.reported
      << " new=" << (progress.new_unreachable ? "unreachable" : "reached") << "\n";
  return !progress.new_unreachable && progress.reported == 0;
}

}  // namespace cutover::proxy
