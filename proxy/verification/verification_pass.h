// One verification pass, shared by `cutover verify --once` (verify_command.h) and cutover's own
// background verification (verifier.h): logged in to both sides, both catalogs read, each
// chosen table compared (table_check.h) in snapshots the caller opens; and the open
// divergences settled with its verdicts.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "proxy/base/config.h"
#include "proxy/migration/divergence_ledger.h"
#include "proxy/verification/pg_session.h"
#include "proxy/verification/table_check.h"
#include "router/phase.h"
#include "verify/verify_report.h"

namespace cutover::proxy {

// Logged in to `db` as backends.old/new say, `user` and `database` standing in where they are
// empty, with the canonical forms' session settings applied.
boost::system::result<PgSession, PgError> verification_login(
    const Config& config, router::Backend db, const std::string& user, const std::string& database,
    const std::atomic<bool>* stop = nullptr);

// Begins a REPEATABLE READ READ ONLY transaction on each side at the same time and takes its
// snapshot, each answer awaited at most `timeout` (the login's query_timeout when none).
boost::system::result<void, PgError> begin_snapshots(
    PgSession& old_db, PgSession& new_db,
    std::optional<std::chrono::milliseconds> timeout = std::nullopt);

// verify.checksum's settings.
CheckSettings check_settings(const Config& config, bool row_level);

struct PassResult {
  std::vector<verify::TableVerdict> verdicts{};
  std::optional<PgError> error{};  // the catalogs could not be read: nothing was compared
  bool equal() const;              // no error, and every table equal
};

// Compares every table of `wanted` ("schema.name" or "name"; empty: all) between old and new;
// an error when a name of `wanted` matches no table on either side.
PassResult run_pass(PgSession& old_db, PgSession& new_db, const std::vector<std::string>& wanted,
                    const CheckSettings& settings, const OpenSnapshots& open_snapshots);

// Opens a `verification` divergence per differing table (not for one that could not be read)
// and closes the open divergences of tables proven equal; `every_table`: the pass covered every
// table, so an unqualified name is known to mean only tables it compared. The caller vouches
// that the verdicts are consistent. Returns how many it closed.
size_t settle_divergences(DivergenceLedger& ledger,
                          const std::vector<verify::TableVerdict>& verdicts, bool every_table);

}  // namespace cutover::proxy
