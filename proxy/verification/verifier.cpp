#include "proxy/verification/verifier.h"

#include <boost/json.hpp>
#include <chrono>

#include "proxy/base/log.h"
#include "proxy/migration/mirror_journal.h"
#include "proxy/verification/verification_pass.h"

namespace cutover::proxy {
namespace {

namespace json = boost::json;

// How long a pair's hold may wait for the commits in flight to end before the table is left
// for the next pass: a commit in flight takes one round trip to new, unless new is stuck.
constexpr auto kHoldWait = std::chrono::seconds(2);

int64_t unix_ms_now() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

json::object verdict_json(const verify::TableVerdict& v) {
  json::array rows;
  for (const verify::RowDifference& row : v.rows) {
    json::object r{{"kind", verify::difference_name(row.kind)}, {"key", row.key}};
    if (!row.columns.empty()) {
      json::array columns;
      for (const std::string& c : row.columns) columns.emplace_back(c);
      r["columns"] = std::move(columns);
    }
    rows.emplace_back(std::move(r));
  }
  return {{"table", v.table},
          {"equal", v.equal()},
          {"keyed", v.keyed},
          {"rows_old", v.rows_old},
          {"rows_new", v.rows_new},
          {"ranges", v.ranges},
          {"differing_rows", v.differing_rows},
          {"problem", v.problem},
          {"detail", v.detail},
          {"rows", std::move(rows)}};
}

}  // namespace

Verifier::Verifier(const Config& config, ProxyContext& context)
    : config_(config),
      context_(context),
      mismatched_rows_(prometheus::BuildGauge()
                           .Name("cutover_verify_mismatched_rows")
                           .Help("Rows the latest verification pass found different, by table")
                           .Register(context.metrics.registry())),
      last_success_(prometheus::BuildGauge()
                        .Name("cutover_verify_last_success_timestamp_seconds")
                        .Help("When a verification pass last read every table (Unix time)")
                        .Register(context.metrics.registry())
                        .Add({})),
      holds_(prometheus::BuildHistogram()
                 .Name("cutover_verify_commit_hold_seconds")
                 .Help("How long commits were held for a pair of snapshots")
                 .Register(context.metrics.registry())
                 .Add({}, prometheus::Histogram::BucketBoundaries{0.0005, 0.001, 0.002, 0.005, 0.01,
                                                                  0.05, 0.25, 1})),
      thread_([this] { run(); }) {}

Verifier::~Verifier() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  stop_ = true;
  wake_.notify_all();
  thread_.join();
}

bool Verifier::start() {
  {
    std::lock_guard lock(mutex_);
    if (wanted_ || running_) return false;
    wanted_ = true;
  }
  wake_.notify_all();
  return true;
}

uint64_t Verifier::next_pass() const {
  std::lock_guard lock(mutex_);
  return passes_ + 1;
}

std::string Verifier::report() const {
  std::lock_guard lock(mutex_);
  return report_;
}

void Verifier::run() {
  for (;;) {
    uint64_t number = 0;
    {
      std::unique_lock lock(mutex_);
      wake_.wait(lock, [this] { return stopping_ || wanted_; });
      if (stopping_) return;
      wanted_ = false;
      running_ = true;
      number = ++passes_;
    }
    run_pass(number);
    std::lock_guard lock(mutex_);
    running_ = false;
  }
}

// Each table in a pair of snapshots taken while commits are held; then the verdicts settle the
// open divergences, the metrics and the report.
void Verifier::run_pass(uint64_t number) {
  const int64_t started = unix_ms_now();
  longest_hold_ms_ = 0;
  holds_taken_ = 0;
  {
    std::lock_guard lock(mutex_);
    report_ = json::serialize(
        json::object{{"pass", number}, {"running", true}, {"started_unix_ms", started}});
  }
  log::info("verification_started", {{"pass", number}});
  PassResult pass;
  size_t closed = 0;
  try {
    pass = compare_all();
    // A pass cut short by a shutdown proved nothing about the tables it did not reach.
    if (!pass.error && !stop_) {
      closed =
          settle_divergences(*context_.divergences, pass.verdicts, config_.verify.tables.empty());
    }
  } catch (const std::exception& e) {  // the ledger's disk, memory: reported, never fatal
    pass.error = PgError{"XX000", std::string("verification failed: ") + e.what()};
  }
  publish(number, started, pass, closed);
}

PassResult Verifier::compare_all() {
  const VerifyConfig& v = config_.verify;
  auto old_db = verification_login(config_, router::Backend::kOld, v.user, v.database, &stop_);
  auto new_db = verification_login(config_, router::Backend::kNew, v.user, v.database, &stop_);
  if (!old_db || !new_db) return {.error = old_db ? new_db.error() : old_db.error()};
  CheckSettings settings = check_settings(config_, false);
  settings.stop = &stop_;
  return proxy::run_pass(*old_db, *new_db, v.tables, settings,
                         [this](PgSession& o, PgSession& n) { return open_pair(o, n); });
}

void Verifier::publish(uint64_t number, int64_t started, const PassResult& pass, size_t closed) {
  json::array tables;
  bool every_table_read = !pass.error;
  for (const verify::TableVerdict& v : pass.verdicts) {
    tables.emplace_back(verdict_json(v));
    mismatched_rows_.Add({{"table", v.table}}).Set(static_cast<double>(v.differing_rows));
    every_table_read = every_table_read && v.problem != "unreadable";
  }
  if (every_table_read) last_success_.Set(static_cast<double>(unix_ms_now()) / 1000);
  const std::string error = pass.error ? pass.error->text() : "";
  // Microseconds as an integer: Boost.JSON writes every double in exponent form.
  const auto longest_us = static_cast<int64_t>(longest_hold_ms_ * 1000);
  json::object report{{"pass", number},
                      {"running", false},
                      {"started_unix_ms", started},
                      {"finished_unix_ms", unix_ms_now()},
                      {"equal", pass.equal()},
                      {"error", error},
                      {"tables", std::move(tables)},
                      {"commit_holds", {{"count", holds_taken_}, {"longest_us", longest_us}}},
                      {"divergences_closed", closed}};
  log::write(pass.equal() ? log::Level::kInfo : log::Level::kWarn, "verification_finished",
             {{"pass", number},
              {"equal", pass.equal()},
              {"tables", pass.verdicts.size()},
              {"error", error},
              {"longest_hold_us", longest_us},
              {"divergences_closed", closed}});
  std::lock_guard lock(mutex_);
  report_ = json::serialize(report);
}

// A pair of snapshots holding the same writes, tried again when a commit slipped past the hold.
boost::system::result<void, PgError> Verifier::open_pair(PgSession& old_db, PgSession& new_db) {
  constexpr int kTries = 3;
  for (int attempt = 1;; ++attempt) {
    auto paired = take_pair(old_db, new_db);
    if (!paired) return paired.error();
    if (*paired) return {};
    old_db.query("ROLLBACK");
    new_db.query("ROLLBACK");
    if (attempt == kTries) {
      return PgError{"55P03", "commits kept going on while the snapshots were taken"};
    }
  }
}

// Both snapshots taken while no commit is between old and new: the same writes in each. False
// when a commit went on meanwhile (one that waited past its limit, CommitFence::admit).
boost::system::result<bool, PgError> Verifier::take_pair(PgSession& old_db, PgSession& new_db) {
  if (stop_) return PgError{"57014", "verification stopped: cutover is shutting down"};
  const MirrorJournal& journal = *context_.journal;
  auto behind = [&] {
    return PgError{"55000", "new is behind: the journal holds " +
                                std::to_string(journal.records_behind()) +
                                " writes not yet replayed; verified once it has caught up"};
  };
  if (journal.holds_records()) return behind();
  std::optional<CommitFence::Hold> hold = context_.commits.hold(kHoldWait);
  if (!hold) return PgError{"55P03", "commits in flight did not end within 2 s"};
  const auto held = std::chrono::steady_clock::now();
  const uint64_t horizon = context_.commits.horizon();
  auto begun = begin_snapshots(old_db, new_db, kHoldWait);
  const bool slipped = context_.commits.horizon() != horizon;
  hold.reset();
  const std::chrono::duration<double> took = std::chrono::steady_clock::now() - held;
  holds_.Observe(took.count());
  ++holds_taken_;
  longest_hold_ms_ = std::max(longest_hold_ms_, took.count() * 1000);
  if (!begun) return begun.error();
  // A commit new refused while the pair was taken went to the journal: new lacks it.
  if (journal.holds_records()) return behind();
  return !slipped;
}

}  // namespace cutover::proxy
