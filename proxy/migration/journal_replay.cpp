#include "proxy/migration/journal_replay.h"

#include <chrono>
#include <stdexcept>
#include <system_error>

#include "protocol/framing.h"
#include "protocol/frontend.h"
#include "proxy/auth/backend_login.h"
#include "proxy/base/log.h"
#include "proxy/migration/journal_units.h"
#include "router/insert_defaults.h"
#include "router/row_keys.h"
#include "verify/durable_file.h"

namespace cutover::proxy {
namespace {

using Outcome = verify::JournalRecord::Outcome;
using What = verify::JournalReport::What;

// How long a transaction new still runs may keep replay waiting before it is reported.
constexpr int64_t kInProgressPatienceMs = 60'000;

int64_t unix_ms_now() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

void append_query(std::string& out, std::string_view sql) {
  protocol::encode(protocol::Query{.sql = std::string(sql)}, out);
}

}  // namespace

JournalReplayer::JournalReplayer(const Config& config, DivergenceLedger& divergences)
    : config_(config),
      divergences_(divergences),
      classifier_(config.migration.safe_functions),
      checkpoint_(verify::read_checkpoint(config.verify.journal_dir)) {
  if (checkpoint_.in_doubt == 0) return;
  // An earlier replay sent this record's COMMIT and never saw the answer.
  const auto journal = verify::read_journal(config.verify.journal_dir, checkpoint_.through);
  for (const auto& record : journal.records) {
    if (record.sequence == checkpoint_.in_doubt) {
      report(What::kMayHaveApplied, record, "replay was interrupted after sending its commit");
    }
  }
  advance(checkpoint_.in_doubt, 0);
}

asio::awaitable<ReplayProgress> JournalReplayer::replay(std::shared_ptr<const Secrets> secrets,
                                                        uint64_t through,
                                                        const std::atomic<bool>* stop,
                                                        const Settled& settled_here,
                                                        bool skip_only) {
  ReplayProgress progress;
  if (checkpoint_.through >= through) co_return progress;
  const auto journal = verify::read_journal(config_.verify.journal_dir, checkpoint_.through);
  progress.reported += report_problems(journal.problems);
  Settled settled = settled_here;
  for (const auto& record : journal.records) {
    if (record.is_marker()) settled[record.resolves] = record.outcome == Outcome::kReplay;
  }
  for (const auto& record : journal.records) {
    if (record.sequence <= checkpoint_.through) continue;
    if (record.sequence > through || (stop != nullptr && stop->load())) break;
    if (skip_only && !skipped_without_running(record, settled)) break;
    if (!co_await replay_record(record, settled, *secrets, progress)) {
      progress.new_unreachable = true;
      disconnect();
      break;
    }
  }
  if (checkpoint_moved_) advance(checkpoint_.through, checkpoint_.in_doubt);
  co_return progress;
}

// A marker, or an intent this process knows needs no replay: passed over without asking
// anyone, so the checkpoint is written once per pass, not for each.
bool JournalReplayer::skipped_without_running(const verify::JournalRecord& record,
                                              const Settled& settled) const {
  if (record.is_marker()) return true;
  const auto known = settled.find(record.sequence);
  return record.intent && known != settled.end() && !known->second;
}

void JournalReplayer::disconnect() {
  for (auto& [key, connection] : connections_) connection->close();
  connections_.clear();
}

// Runs one record; false when it must wait (new could not be reached, or still runs the
// transaction the record may have applied) and stays for a later try, unless its COMMIT had
// gone out: then it is reported as in doubt. A may-have-applied record whose transaction id new
// told cutover is settled by asking new whether that transaction committed. An intent runs only
// once old committed it.
asio::awaitable<bool> JournalReplayer::replay_record(const verify::JournalRecord& record,
                                                     const Settled& settled, const Secrets& secrets,
                                                     ReplayProgress& progress) {
  if (skipped_without_running(record, settled)) {
    pass(record.sequence);
    if (!record.is_marker()) ++progress.not_needed;
    co_return true;
  }
  if (record.intent) {
    const OnSource source = co_await on_source(record, settled, secrets);
    if (source == OnSource::kWait) co_return false;
    if (source != OnSource::kRun) {
      if (source == OnSource::kUnknown) {
        auto keys = co_await keys_of(record, secrets);
        report(What::kCommitUnknown, record,
               "cutover stopped before old answered its COMMIT, and old cannot say whether it "
               "committed",
               std::move(keys));
        ++progress.reported;
        advance(record.sequence, 0);
      } else {
        ++progress.not_needed;
        pass(record.sequence);  // asking again after a crash gives the same answer
      }
      co_return true;
    }
  }
  if (record.outcome == Outcome::kMayHaveApplied) {
    auto status = co_await commit_status(record, secrets);
    if (!status) co_return false;
    if (*status == "committed") {  // new has it: nothing to do
      ++progress.already_applied;
      pass(record.sequence);
      co_return true;
    }
    // Still running on new (its backend outlived cutover's wait): ask again later, for a while.
    if (*status == "in progress" && unix_ms_now() - record.unix_ms < kInProgressPatienceMs) {
      co_return false;
    }
    if (*status != "aborted") {  // unknown, or in progress for too long: someone must look
      auto keys = co_await keys_of(record, secrets);
      report(What::kMayHaveApplied, record,
             "new's connection failed or timed out at its commit; txid_status: " + *status,
             std::move(keys));
      ++progress.reported;
      advance(record.sequence, 0);
      co_return true;
    }
  }  // aborted: new does not have it, so it is replayed like one that did not apply
  const auto pieces = pieces_of(record.unit);
  if (pieces.empty()) {
    report(What::kRefused, record, "the record holds no whole protocol messages");
    ++progress.reported;
    advance(record.sequence, 0);
    co_return true;
  }
  OwnConnection* connection = co_await connection_for(record, secrets);
  if (connection == nullptr) co_return false;
  // Everything up to the commit (the last piece) first: a failure there commits nothing.
  const std::string_view last = pieces.back();
  const std::string_view before(record.unit.data(), record.unit.size() - last.size());
  const std::chrono::milliseconds patience = patience_for(record.sequence);
  // Named: GCC 12 mishandles temporaries inside co_await expressions.
  const std::optional<std::chrono::milliseconds> wait = patience;
  auto answer =
      co_await exchange(*connection, before, static_cast<int>(pieces.size()) - 1, 1, wait);
  if (!answer.answered) {
    // Lost, or no answer in time (a long statement, or a lock a client holds on new): later,
    // waiting twice as long.
    constexpr std::chrono::milliseconds kMostPatience = std::chrono::hours(1);
    patience_.second = std::min(patience * 2, kMostPatience);
    log::warn("journal_replay_interrupted", {{"sequence", record.sequence},
                                             {"waited_ms", patience.count()},
                                             {"effect", "tried again in a second"}});
    co_return false;
  }
  if (answer.error.empty()) {
    advance(checkpoint_.through, record.sequence);  // the commit goes out: in doubt until seen
    answer = co_await exchange(*connection, last, 1);
    if (!answer.answered) {
      auto keys = co_await keys_of(record, secrets);
      report(What::kMayHaveApplied, record, "new's connection failed during replay of its commit",
             std::move(keys));
      ++progress.reported;
      advance(record.sequence, 0);
      co_return false;
    }
  }
  if (answer.error.empty()) {
    ++progress.replayed;
  } else {
    report(What::kRefused, record, answer.error);
    ++progress.reported;
  }
  advance(record.sequence, 0);
  co_await clean_up(*connection, answer.status);
  co_return true;
}

// What new says became of the record's transaction there (txid_status: "committed",
// "aborted", "in progress"), or "unknown" when its id was not learnt or is too old; nullopt
// when new cannot be reached.
asio::awaitable<std::optional<std::string>> JournalReplayer::commit_status(
    const verify::JournalRecord& record, const Secrets& secrets) {
  if (record.mirror_transaction_id == 0) co_return "unknown";
  OwnConnection* connection = co_await connection_for(record, secrets);
  if (connection == nullptr) co_return std::nullopt;
  auto status = co_await txid_status(*connection, record.mirror_transaction_id);
  co_return status;
}

// Whether old committed an intent's transaction: known in this process, or by its marker. One
// an earlier process left without a marker is asked of old (the session that wrote it is gone,
// so "in progress" only lasts until old notices).
asio::awaitable<JournalReplayer::OnSource> JournalReplayer::on_source(
    const verify::JournalRecord& record, const Settled& settled, const Secrets& secrets) {
  if (auto known = settled.find(record.sequence); known != settled.end()) {
    co_return known->second ? OnSource::kRun : OnSource::kSkip;
  }
  if (record.source_transaction_id == 0) co_return OnSource::kUnknown;
  const router::Backend source =
      target_ == router::Backend::kNew ? router::Backend::kOld : router::Backend::kNew;
  OwnConnection* connection = co_await connection_for(record, secrets, source);
  if (connection == nullptr) co_return OnSource::kWait;
  const auto status = co_await txid_status(*connection, record.source_transaction_id);
  if (!status || *status == "in progress") co_return OnSource::kWait;
  if (*status == "committed") co_return OnSource::kRun;
  co_return *status == "aborted" ? OnSource::kSkip : OnSource::kUnknown;
}

// txid_status(id) on `connection`: "committed", "aborted", "in progress", or "unknown" when the
// server no longer knows (or never knew) the id; nullopt when the connection failed.
asio::awaitable<std::optional<std::string>> JournalReplayer::txid_status(OwnConnection& connection,
                                                                         uint64_t id) {
  std::string query;
  append_query(query, "SELECT txid_status(" + std::to_string(id) + ")");
  const auto answer = co_await exchange(connection, query, 1);
  if (!answer.answered) co_return std::nullopt;
  const bool valued = answer.error.empty() && !answer.rows.empty() &&
                      !answer.rows[0].columns.empty() && answer.rows[0].columns[0];
  co_return valued ? *answer.rows[0].columns[0] : "unknown";
}

// `db`'s connection for the record's database and user (cutover's configured ones where set),
// logged in on first use; null when `db` cannot be reached.
asio::awaitable<OwnConnection*> JournalReplayer::connection_for(const verify::JournalRecord& record,
                                                                const Secrets& secrets,
                                                                router::Backend db) {
  const BackendTarget target = backend_target(config_, secrets, db);
  LoginIdentity identity;
  identity.user = target.config.user.empty() ? record.user : target.config.user;
  identity.database = target.config.database.empty() ? record.database : target.config.database;
  identity.password = target.secrets.password;
  auto key = std::make_tuple(db, identity.database, identity.user);
  if (auto found = connections_.find(key); found != connections_.end()) {
    co_return found->second.get();
  }
  std::string error;
  auto connection = co_await OwnConnection::open(target, identity, config_.timeouts.backend_connect,
                                                 config_.migration.mirror.timeout, error);
  if (connection == nullptr) {
    log::warn("journal_replay_login_failed",
              {{"database", identity.database}, {"user", identity.user}, {"error", error}});
    co_return nullptr;
  }
  co_return connections_.emplace(key, std::move(connection)).first->second.get();
}

// A record's statements may run on new for mirror.timeout_ms at first; each interrupted try of
// the same record doubles that (up to an hour), so a statement that takes longer on new than
// the mirror waits for live (a CREATE TABLE AS of millions of rows) is waited for in the end.
std::chrono::milliseconds JournalReplayer::patience_for(uint64_t sequence) {
  if (patience_.first != sequence) patience_ = {sequence, config_.migration.mirror.timeout};
  return patience_.second;
}

// Sends `messages` and reads their answers (up to `ready_expected` ReadyForQuery), all within
// `timeout` (default mirror.timeout_ms); a connection that fails or times out is forgotten.
asio::awaitable<OwnConnection::Answer> JournalReplayer::exchange(
    OwnConnection& connection, std::string_view messages, int ready_expected, size_t keep_rows,
    std::optional<std::chrono::milliseconds> timeout) {
  auto answer = co_await connection.exchange(messages, ready_expected, keep_rows, timeout);
  if (!answer.answered) {
    std::erase_if(connections_,
                  [&](const auto& entry) { return entry.second.get() == &connection; });
  }
  co_return answer;
}

// Leaves the connection as a fresh one for the next record: no transaction, no settings, no
// prepared statements (the next record prepares its own).
asio::awaitable<void> JournalReplayer::clean_up(OwnConnection& connection, char status) {
  std::string messages;
  if (status != 'I') append_query(messages, "ROLLBACK");
  append_query(messages, "DISCARD ALL");
  co_await exchange(connection, messages, status != 'I' ? 2 : 1);
}

// Past a record that needs nothing: the checkpoint is written at the end of the pass (or with
// the next record that runs), not for each.
void JournalReplayer::pass(uint64_t sequence) {
  checkpoint_.through = sequence;
  checkpoint_moved_ = true;
}

void JournalReplayer::advance(uint64_t through, uint64_t in_doubt) {
  checkpoint_ = {.through = through, .in_doubt = in_doubt};
  checkpoint_moved_ = false;
  verify::write_checkpoint(config_.verify.journal_dir, checkpoint_);
}

// The keys of the rows the record's statements name by value ("t(id)=(42)"), with each
// table's primary key read from the mirror's catalog; empty where none is known (no key, the
// mirror unreachable, rows not named by constants).
asio::awaitable<std::vector<std::string>> JournalReplayer::keys_of(
    const verify::JournalRecord& record, const Secrets& secrets) {
  std::vector<std::string> keys;
  const std::vector<router::NamedRows> named = rows_named_by(record.unit);
  if (named.empty()) co_return keys;
  OwnConnection* connection = co_await connection_for(record, secrets);
  if (connection == nullptr) co_return keys;
  for (const router::NamedRows& rows : named) {
    std::string query;
    append_query(query,
                 "SELECT a.attname FROM pg_catalog.pg_index i JOIN pg_catalog.pg_attribute a "
                 "ON a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey) WHERE i.indisprimary "
                 "AND i.indrelid = pg_catalog.to_regclass(" +
                     router::quote_literal(rows.table) +
                     ") ORDER BY pg_catalog.array_position(i.indkey::int2[], a.attnum)");
    constexpr size_t kMaxKeyColumns = 32;  // PostgreSQL's INDEX_MAX_KEYS
    const auto answer = co_await exchange(*connection, query, 1, kMaxKeyColumns);
    if (!answer.answered) co_return keys;
    std::vector<std::string> key;
    for (const auto& row : answer.rows) {
      if (!row.columns.empty() && row.columns[0]) key.push_back(*row.columns[0]);
    }
    for (std::string& text : router::key_texts(rows, key)) keys.push_back(std::move(text));
  }
  co_return keys;
}

void JournalReplayer::report(What what, const verify::JournalRecord& record, std::string detail,
                             std::vector<std::string> keys) {
  verify::JournalReport report{.what = what,
                               .unix_ms = unix_ms_now(),
                               .sequence = record.sequence,
                               .connection_id = record.connection_id,
                               .fingerprint = record.fingerprint,
                               .database = record.database,
                               .user = record.user,
                               .tables = tables_of(record.unit, classifier_),
                               .keys = std::move(keys),
                               .detail = std::move(detail)};
  log::warn("journal_needs_repair", {{"sequence", record.sequence},
                                     {"fingerprint", log::hex(record.fingerprint)},
                                     {"tables", log::joined(report.tables)},
                                     {"keys", log::joined(report.keys)},
                                     {"detail", report.detail}});
  // The durable open item first: whoever reads the report finds it open already.
  divergences_.note({.kind = std::string(verify::journal_report_kind(what)),
                     .keys = report.keys,
                     .fingerprint = record.fingerprint,
                     .detail = report.detail},
                    report.tables);
  verify::append_line(config_.verify.mismatch_log, verify::journal_report_line(report));
}

uint64_t JournalReplayer::report_problems(const std::vector<verify::JournalProblem>& problems) {
  uint64_t reported = 0;
  for (const auto& problem : problems) {
    if (problem.kind != verify::JournalProblem::Kind::kCorrupt) continue;  // a torn tail: not
    if (!reported_problems_.emplace(problem.segment.string(), problem.offset).second) continue;
    verify::JournalReport report{.what = What::kCorrupt,
                                 .unix_ms = unix_ms_now(),
                                 .detail = problem.segment.string() + " offset " +
                                           std::to_string(problem.offset) + ", " +
                                           std::to_string(problem.bytes) + " bytes"};
    log::error("journal_corrupt_record", {{"segment", problem.segment.string()},
                                          {"offset", problem.offset},
                                          {"bytes", problem.bytes}});
    divergences_.note(
        {.kind = std::string(verify::journal_report_kind(report.what)), .detail = report.detail},
        {});
    verify::append_line(config_.verify.mismatch_log, verify::journal_report_line(report));
    ++reported;
  }
  return reported;
}

}  // namespace cutover::proxy
