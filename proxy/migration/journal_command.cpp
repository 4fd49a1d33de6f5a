#include "proxy/migration/journal_command.h"

#include "proxy/auth/credentials.h"
#include "proxy/base/log.h"
#include "proxy/migration/divergence_ledger.h"
#include "proxy/migration/mirror_journal.h"
#include "verify/journal.h"

namespace cutover::proxy {
bool inspect_journal(const Config& config, std::ostream& out) {
  using Outcome = verify::JournalRecord::Outcome;
  const verify::JournalContents journal = verify::read_journal(config.verify.journal_dir);
  size_t may_have_applied = 0;
  for (const auto& r : journal.records) {
    const bool uncertain = r.outcome == Outcome::kMayHaveApplied;
    may_have_applied += uncertain;
    out << "sequence=" << r.sequence
        << " outcome=" << (uncertain ? "may_have_applied" : "did_not_apply")
        << " unix_ms=" << r.unix_ms << " conn=" << r.connection_id
        << " fingerprint=" << log::hex(r.fingerprint) << " mirror_xid=" << r.mirror_transaction_id
        << " database=" << r.database << " user=" << r.user << " bytes=" << r.unit.size() << "\n";
  }
  size_t corrupt = 0;
  for (const auto& p : journal.problems) {
    const bool torn = p.kind == verify::JournalProblem::Kind::kTornTail;
    corrupt += !torn;
    out << "problem=" << (torn ? "torn_tail" : "corrupt") << " segment=" << p.segment.string()
        << " offset=" << p.offset << " bytes=" << p.bytes << "\n";
  }
  out << "journal=" << config.verify.journal_dir << " records=" << journal.records.size()
      << " did_not_apply=" << journal.records.size() - may_have_applied
      << " may_have_applied=" << may_have_applied << " corrupt=" << corrupt << "\n";
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
      << " already_applied=" << progress.already_applied << " reported=" << progress.reported
      << " new=" << (progress.new_unreachable ? "unreachable" : "reached") << "\n";
  return !progress.new_unreachable && progress.reported == 0;
}

}  // namespace cutover::proxy
