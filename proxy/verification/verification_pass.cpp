#include "proxy/verification/verification_pass.h"

#include <algorithm>
#include <chrono>
#include <map>
#include <set>

#include "proxy/auth/credentials.h"
#include "proxy/verification/table_catalog.h"
#include "verify/canonical_row.h"

namespace cutover::proxy {
namespace {

constexpr size_t kKeysPerDivergence = 10;

}  // namespace

boost::system::result<PgSession, PgError> verification_login(const Config& config,
                                                             router::Backend db,
                                                             const std::string& user,
                                                             const std::string& database,
                                                             const std::atomic<bool>* stop) {
  const bool old = db == router::Backend::kOld;
  const BackendConfig& backend = old ? config.backends.old_db : config.backends.new_db;
  const std::string name = old ? "old" : "new";
  PgLogin login{.name = name,
                .backend = backend,
                .user = backend.user.empty() ? user : backend.user,
                .database = backend.database.empty() ? database : backend.database};
  if (login.user.empty() || login.database.empty()) {
    return PgError{"28000", name + ": backends." + name +
                                ".user and .database are empty (the client's stand in): set "
                                "verify.user and verify.database, or give --user and --database"};
  }
  try {
    if (!backend.password_file.empty()) {
      login.password = read_password_file(backend.password_file, "backends." + name);
    }
  } catch (const std::exception& e) {
    return PgError{"28P01", e.what()};
  }
  login.stop = stop;
  login.connect_timeout =
      std::chrono::duration_cast<std::chrono::seconds>(std::max<std::chrono::milliseconds>(
          config.timeouts.backend_connect, std::chrono::seconds(1)));
  auto session = PgSession::open(login);
  if (!session) return session;
  if (auto set = session->query(verify::canonical_session_sql()); !set) return set.error();
  return session;
}

namespace {

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
                                                 const CheckSettings& settings,
                                                 const OpenSnapshots& open_snapshots) {
  std::vector<verify::TableVerdict> verdicts;
  for (const auto& [qualified, shape] : on_old) {
    if (!chosen(wanted, shape)) continue;
    const auto other = on_new.find(qualified);
    if (other == on_new.end()) {
      verdicts.push_back(missing(shape, "table_missing_on_new"));
      continue;
    }
    verdicts.push_back(
        TableCheck(old_db, new_db, shape, other->second, settings).run(open_snapshots));
  }
  for (const auto& [qualified, shape] : on_new) {
    if (chosen(wanted, shape) && !on_old.contains(qualified)) {
      verdicts.push_back(missing(shape, "table_only_on_new"));
    }
  }
  return verdicts;
}

}  // namespace

boost::system::result<void, PgError> begin_snapshots(
    PgSession& old_db, PgSession& new_db, std::optional<std::chrono::milliseconds> timeout) {
  const std::string begin = "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY; SELECT 1";
  old_db.send(begin);
  new_db.send(begin);
  auto on_old = old_db.receive(timeout);
  auto on_new = new_db.receive(timeout);
  if (!on_old || !on_new) return on_old ? on_new.error() : on_old.error();
  return {};
}

CheckSettings check_settings(const Config& config, bool row_level) {
  const ChecksumConfig& c = config.verify.checksum;
  return {.range_rows = c.range_rows,
          .range_ms = static_cast<double>(c.range_time.count()),
          .max_load = c.max_load_percent / 100.0,
          .row_level = row_level};
}

bool PassResult::equal() const {
  return !error &&
         std::all_of(verdicts.begin(), verdicts.end(), [](const auto& v) { return v.equal(); });
}

PassResult run_pass(PgSession& old_db, PgSession& new_db, const std::vector<std::string>& wanted,
                    const CheckSettings& settings, const OpenSnapshots& open_snapshots) {
  auto on_old = read_tables(old_db);
  auto on_new = on_old ? read_tables(new_db) : on_old;
  if (!on_old || !on_new) return {.error = (on_old ? on_new : on_old).error()};
  // A name that matches nothing is a mistake (a typo would otherwise verify nothing, equal).
  for (const std::string& name : wanted) {
    auto named = [&](const auto& entry) { return names(name, entry.second); };
    if (std::none_of(on_old->begin(), on_old->end(), named) &&
        std::none_of(on_new->begin(), on_new->end(), named)) {
      return {.error = PgError{"42P01", "no table named " + name + " on old or new"}};
    }
  }
  return {.verdicts =
              compare_tables(old_db, new_db, *on_old, *on_new, wanted, settings, open_snapshots)};
}

namespace {

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

}  // namespace

size_t settle_divergences(DivergenceLedger& ledger,
                          const std::vector<verify::TableVerdict>& verdicts, bool every_table) {
  std::set<std::string> equal;
  std::multimap<std::string, bool> by_name;  // unqualified name: each such table's equality
  for (const auto& verdict : verdicts) {
    // A table that could not be read was not compared: nothing is known of it.
    if (!verdict.equal() && verdict.problem != "unreadable") ledger.open(divergence_of(verdict));
    if (verdict.equal()) equal.insert(verdict.table);
    by_name.emplace(verdict.table.substr(verdict.table.find('.') + 1), verdict.equal());
  }
  // An item names its table as the statement wrote it: "s.t", or "t" (then the pass must have
  // covered every table, and each one of that name must be equal). An item without a table,
  // or of a table not compared, stays open: nothing proved it.
  auto proven = [&](const Divergence& d) {
    if (equal.contains(d.table)) return true;
    if (!every_table || d.table.find('.') != std::string::npos) return false;
    const auto [first, last] = by_name.equal_range(d.table);
    return first != last && std::all_of(first, last, [](const auto& e) { return e.second; });
  };
  return ledger.close_if(proven, "verified equal");
}

}  // namespace cutover::proxy
