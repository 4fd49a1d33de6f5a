#include "proxy/verification/verify_command.h"

#include <chrono>
#include <map>
#include <optional>
#include <set>

#include "proxy/auth/credentials.h"
#include "proxy/migration/divergence_ledger.h"
#include "proxy/migration/mirror_journal.h"
#include "proxy/verification/table_catalog.h"
#include "proxy/verification/table_check.h"
#include "verify/canonical_row.h"

namespace cutover::proxy {
namespace {

constexpr size_t kKeysPerDivergence = 10;

boost::system::result<PgSession, PgError> login(const Config& config, const VerifyOptions& options,
                                                router::Backend db) {
  const bool old = db == router::Backend::kOld;
  const BackendConfig& backend = old ? config.backends.old_db : config.backends.new_db;
  const std::string name = old ? "old" : "new";
  PgLogin login{.name = name,
                .backend = backend,
                .user = backend.user.empty() ? options.user : backend.user,
                .database = backend.database.empty() ? options.database : backend.database};
  if (login.user.empty() || login.database.empty()) {
    return PgError{"28000", name + ": backends." + name +
                                ".user and .database are empty (the client's stand in): give "
                                "--user and --database"};
  }
  try {
    if (!backend.password_file.empty()) {
      login.password = read_password_file(backend.password_file, "backends." + name);
    }
  } catch (const std::exception& e) {
    return PgError{"28P01", e.what()};
  }
  login.connect_timeout =
      std::chrono::duration_cast<std::chrono::seconds>(std::max<std::chrono::milliseconds>(
          config.timeouts.backend_connect, std::chrono::seconds(1)));
  auto session = PgSession::open(login);
  if (!session) return session;
  if (auto set = session->query(verify::canonical_session_sql()); !set) return set.error();
  return session;
}

// Whether `wanted` ("schema.name" or "name") names `shape`.
bool names(const std::string& wanted, const TableShape& shape) {
  return wanted == shape.qualified() || wanted == shape.name;
}

bool chosen(const std::vector<std::string>& wanted, const TableShape& shape) {
  if (wanted.empty()) return true;
  return std::any_of(wanted.begin(), wanted.end(), [&](const auto& w) { return names(w, shape); });
}

verify::TableVerdict missing(const TableShape& shape, std::string problem) {
  verify::TableVerdict verdict{.table = shape.qualified(), .keyed = !shape.key.empty()};
  verdict.problem = std::move(problem);
  verdict.detail = "the table exists on one side only";
  return verdict;
}

std::vector<verify::TableVerdict> compare_tables(PgSession& old_db, PgSession& new_db,
                                                 const std::map<std::string, TableShape>& on_old,
                                                 const std::map<std::string, TableShape>& on_new,
                                                 const std::vector<std::string>& wanted,
                                                 const CheckSettings& settings) {
  std::vector<verify::TableVerdict> verdicts;
  for (const auto& [qualified, shape] : on_old) {
    if (!chosen(wanted, shape)) continue;
    const auto other = on_new.find(qualified);
    if (other == on_new.end()) {
      verdicts.push_back(missing(shape, "table_missing_on_new"));
      continue;
    }
    verdicts.push_back(TableCheck(old_db, new_db, shape, other->second, settings).run());
  }
  for (const auto& [qualified, shape] : on_new) {
    if (chosen(wanted, shape) && !on_old.contains(qualified)) {
      verdicts.push_back(missing(shape, "table_only_on_new"));
    }
  }
  return verdicts;
}

Divergence divergence_of(const verify::TableVerdict& verdict) {
  Divergence d{.kind = "verification", .table = verdict.table};
  for (const auto& row : verdict.rows) {
    if (d.keys.size() == kKeysPerDivergence) break;
    d.keys.push_back(row.key);
  }
  d.detail = verdict.problem.empty() ? std::to_string(verdict.differing_rows) + " rows differ"
                                     : verdict.problem + ": " + verdict.detail;
  return d;
}

// Opens what differs and closes what was proven equal (see the header).
void settle(DivergenceLedger& ledger, const std::vector<verify::TableVerdict>& verdicts,
            bool every_table, std::ostream& err) {
  std::set<std::string> equal;
  std::multimap<std::string, bool> by_name;  // unqualified name: each such table's equality
  bool all_equal = true;
  for (const auto& verdict : verdicts) {
    if (!verdict.equal()) ledger.open(divergence_of(verdict));
    if (verdict.equal()) equal.insert(verdict.table);
    all_equal = all_equal && verdict.equal();
    by_name.emplace(verdict.table.substr(verdict.table.find('.') + 1), verdict.equal());
  }
  // An item names its table as the statement wrote it: "s.t", or "t" (then every verified
  // table of that name must be equal).
  auto proven = [&](const Divergence& d) {
    if (every_table && all_equal) return true;
    if (equal.contains(d.table)) return true;
    const auto [first, last] = by_name.equal_range(d.table);
    return first != last && std::all_of(first, last, [](const auto& e) { return e.second; });
  };
  const size_t closed = ledger.close_if(proven, "verified equal");
  err << "divergences: closed=" << closed << " open=" << ledger.open_count() << "\n";
}

}  // namespace

bool verify_once(const Config& config, const VerifyOptions& options, std::ostream& out,
                 std::ostream& err) {
  const auto started = std::chrono::steady_clock::now();
  auto old_db = login(config, options, router::Backend::kOld);
  if (!old_db) {
    err << "cutover verify: " << old_db.error().text() << "\n";
    return false;
  }
  auto new_db = login(config, options, router::Backend::kNew);
  if (!new_db) {
    err << "cutover verify: " << new_db.error().text() << "\n";
    return false;
  }
  auto on_old = read_tables(*old_db);
  auto on_new = on_old ? read_tables(*new_db) : on_old;
  if (!on_old || !on_new) {
    err << "cutover verify: " << (on_old ? on_new : on_old).error().text() << "\n";
    return false;
  }
  const auto& c = config.verify.checksum;
  const CheckSettings settings{.range_rows = c.range_rows,
                               .range_ms = static_cast<double>(c.range_time.count()),
                               .max_load = c.max_load_percent / 100.0,
                               .row_level = options.row_level};
  const std::vector<std::string>& wanted =
      options.tables.empty() ? config.verify.tables : options.tables;
  const std::vector<verify::TableVerdict> verdicts =
      compare_tables(*old_db, *new_db, *on_old, *on_new, wanted, settings);
  for (const auto& verdict : verdicts) {
    for (const std::string& line : verify::difference_lines(verdict)) out << line << "\n";
  }
  out.flush();
  const std::chrono::duration<double> took = std::chrono::steady_clock::now() - started;
  err << "verify: " << verify::summary_line(verdicts, took.count()) << "\n";
  const bool all_equal =
      std::all_of(verdicts.begin(), verdicts.end(), [](const auto& v) { return v.equal(); });
  if (MirrorJournal::held_elsewhere(config.verify.journal_dir)) {
    err << "divergences: unchanged, a running cutover owns them (the journal "
        << config.verify.journal_dir
        << " is in use); under live writes a write in flight can show as a difference\n";
    return all_equal;
  }
  try {
    DivergenceLedger ledger(config.verify.divergence_log);
    MirrorJournal journal(config, ledger);  // throws while a cutover runs: it owns both
    if (journal.holds_records()) {
      err << "divergences: unchanged, the journal still owes new " << journal.records_behind()
          << " records (cutover journal replay)\n";
    } else {
      settle(ledger, verdicts, wanted.empty(), err);
    }
  } catch (const std::runtime_error& e) {
    err << "divergences: unchanged, " << e.what() << "\n";
  }
  return all_equal;
}

}  // namespace cutover::proxy
