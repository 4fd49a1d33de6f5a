#include "proxy/verification/verify_command.h"

#include <chrono>

#include "proxy/migration/divergence_ledger.h"
#include "proxy/migration/mirror_journal.h"
#include "proxy/verification/verification_pass.h"

namespace cutover::proxy {
namespace {

// Settles the open divergences when no cutover runs (see the header); says what it did.
void settle_offline(const Config& config, const PassResult& pass, bool every_table,
                    std::ostream& err) {
  if (MirrorJournal::held_elsewhere(config.verify.journal_dir)) {
    err << "divergences: unchanged, a running cutover owns them (the journal "
        << config.verify.journal_dir
        << " is in use); under live writes a write in flight can show as a difference\n";
    return;
  }
  try {
    DivergenceLedger ledger(config.verify.divergence_log);
    MirrorJournal journal(config, ledger);  // throws if a cutover started meanwhile
    if (journal.holds_records()) {
      err << "divergences: unchanged, the journal still owes new " << journal.records_behind()
          << " records (cutover journal replay)\n";
      return;
    }
    const size_t closed = settle_divergences(ledger, pass.verdicts, every_table);
    err << "divergences: closed=" << closed << " open=" << ledger.open_count() << "\n";
  } catch (const std::runtime_error& e) {
    err << "divergences: unchanged, " << e.what() << "\n";
  }
}

}  // namespace

bool verify_once(const Config& config, const VerifyOptions& options, std::ostream& out,
                 std::ostream& err) {
  const auto started = std::chrono::steady_clock::now();
  const std::string& user = options.user.empty() ? config.verify.user : options.user;
  const std::string& database =
      options.database.empty() ? config.verify.database : options.database;
  auto old_db = verification_login(config, router::Backend::kOld, user, database);
  if (!old_db) {
    err << "cutover verify: " << old_db.error().text() << "\n";
    return false;
  }
  auto new_db = verification_login(config, router::Backend::kNew, user, database);
  if (!new_db) {
    err << "cutover verify: " << new_db.error().text() << "\n";
    return false;
  }
  const std::vector<std::string>& wanted =
      options.tables.empty() ? config.verify.tables : options.tables;
  const PassResult pass =
      run_pass(*old_db, *new_db, wanted, check_settings(config, options.row_level),
               // nothing writes through cutover: taken at once
               [](PgSession& o, PgSession& n) { return begin_snapshots(o, n); });
  if (pass.error) {
    err << "cutover verify: " << pass.error->text() << "\n";
    return false;
  }
  for (const auto& verdict : pass.verdicts) {
    for (const std::string& line : verify::difference_lines(verdict)) out << line << "\n";
  }
  out.flush();
  const std::chrono::duration<double> took = std::chrono::steady_clock::now() - started;
  err << "verify: " << verify::summary_line(pass.verdicts, took.count()) << "\n";
  settle_offline(config, pass, wanted.empty(), err);
  return pass.equal();
}

}  // namespace cutover::proxy
