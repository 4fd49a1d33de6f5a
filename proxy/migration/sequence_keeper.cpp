#include "proxy/migration/sequence_keeper.h"

#include <algorithm>
#include <charconv>
#include <limits>
#include <optional>

#include "protocol/frontend.h"
#include "proxy/base/log.h"
#include "router/insert_defaults.h"

namespace cutover::proxy {
namespace {

// Checked this often for stop() while waiting for the next pass.
constexpr auto kStopPoll = std::chrono::milliseconds(100);
constexpr size_t kMaxSequences = 100'000;  // per database; past it the rest wait a pass
// Each ascending sequence's name (quoted for use in SQL), last value (NULL before its first
// nextval) and maximum.
constexpr std::string_view kSequences =
    "SELECT pg_catalog.format('%I.%I', schemaname, sequencename), last_value, max_value "
    "FROM pg_catalog.pg_sequences WHERE increment_by > 0 ORDER BY 1";

std::optional<int64_t> integer(const std::optional<std::string>& text) {
  int64_t value = 0;
  if (!text) return std::nullopt;
  const std::string_view digits = *text;
  auto [end, ec] = std::from_chars(digits.begin(), digits.end(), value);
  if (ec != std::errc() || end != digits.end()) return std::nullopt;
  return value;
}

struct Sequence {
  std::optional<int64_t> last;
  int64_t max = std::numeric_limits<int64_t>::max();
};

std::map<std::string, Sequence> sequences_of(const OwnConnection::Answer& answer) {
  std::map<std::string, Sequence> out;
  for (const auto& row : answer.rows) {
    if (row.columns.size() != 3 || !row.columns[0]) continue;
    out[*row.columns[0]] = {integer(row.columns[1]),
                            integer(row.columns[2]).value_or(std::numeric_limits<int64_t>::max())};
  }
  return out;
}

LoginIdentity identity_for(const BackendConfig& db, const BackendSecrets& secrets,
                           const std::pair<std::string, std::string>& key) {
  LoginIdentity identity;
  identity.database = db.database.empty() ? key.first : db.database;
  identity.user = db.user.empty() ? key.second : db.user;
  identity.password = secrets.password;
  return identity;
}

}  // namespace

void SequenceKeeper::note_login(const std::string& database, const std::string& user) {
  std::lock_guard lock(mutex_);
  logins_.emplace(database, user);
}

asio::awaitable<void> SequenceKeeper::run(std::function<std::shared_ptr<const Secrets>()> secrets) {
  auto next_pass = std::chrono::steady_clock::now();
  while (!stopping_.load()) {
    if (std::chrono::steady_clock::now() < next_pass) {
      co_await sleep_for(kStopPoll);
      continue;
    }
    next_pass = std::chrono::steady_clock::now() + config_.migration.mirror.sequence_sync;
    const auto current = secrets();
    co_await pass(*current);
  }
  for (auto& [key, pair] : pairs_) {
    if (pair.old_side) pair.old_side->close();
    if (pair.new_side) pair.new_side->close();
  }
}

asio::awaitable<void> SequenceKeeper::pass(const Secrets& secrets) {
  while (passing_) co_await sleep_for(std::chrono::milliseconds(5));
  if (!roles_.current().mirroring) co_return;  // decommissioned: no mirror to keep
  passing_ = true;
  std::set<Key> logins;
  {
    std::lock_guard lock(mutex_);
    logins = logins_;
  }
  int64_t least = std::numeric_limits<int64_t>::max();
  bool complete = !stopping_.load();
  for (const Key& key : logins) {
    if (stopping_.load()) break;
    const bool kept = co_await keep(key, pairs_[key], secrets, least);
    complete = complete && kept;
  }
  headroom_.store(least);
  headroom_known_.store(complete);
  passing_ = false;
}

asio::awaitable<bool> SequenceKeeper::keep(const Key& key, Pair& pair, const Secrets& secrets,
                                           int64_t& least) {
  // Each co_await's result named first: GCC 12 miscompiled the shorter form (SIGILL).
  const bool connected = co_await connect(key, pair, secrets);
  if (!connected) co_return false;
  const bool advanced = co_await advance(key, pair, least);
  if (advanced) pair.failing = false;
  co_return advanced;
}

// Both sides' connections, opened where they are not; false when one cannot be. (Two calls,
// not a loop over a braced list: GCC 12 mishandles such temporaries across a co_await.)
asio::awaitable<bool> SequenceKeeper::connect(const Key& key, Pair& pair, const Secrets& secrets) {
  const BackendTarget old_target{"old", config_.backends.old_db, secrets.old_db};
  const BackendTarget new_target{"new", config_.backends.new_db, secrets.new_db};
  const bool old_open = co_await open_side(key, pair, pair.old_side, old_target);
  if (!old_open) co_return false;
  const bool new_open = co_await open_side(key, pair, pair.new_side, new_target);
  co_return new_open;
}

asio::awaitable<bool> SequenceKeeper::open_side(const Key& key, Pair& pair,
                                                std::unique_ptr<OwnConnection>& side,
                                                const BackendTarget& target) {
  if (side != nullptr && side->is_open()) co_return true;
  std::string error;
  side = co_await OwnConnection::open(target, identity_for(target.config, target.secrets, key),
                                      config_.timeouts.backend_connect,
                                      config_.migration.mirror.timeout, error);
  if (side == nullptr) fail(key, pair, target.name + ": " + error);
  co_return side != nullptr;
}

// One pass over the database's sequences, the mirror's moved ahead of the source of truth's;
// false when a side failed. `least` keeps the smallest lead a mirror sequence is left with.
asio::awaitable<bool> SequenceKeeper::advance(const Key& key, Pair& pair, int64_t& least) {
  const bool old_serves = roles_.current().serving == router::Backend::kOld;
  OwnConnection& truth_side = old_serves ? *pair.old_side : *pair.new_side;
  OwnConnection& mirror_side = old_serves ? *pair.new_side : *pair.old_side;
  const std::string truth_name = old_serves ? "old: " : "new: ";
  const std::string mirror_name = old_serves ? "new: " : "old: ";
  const auto on_truth = co_await truth_side.query(kSequences, kMaxSequences);
  const auto on_mirror = co_await mirror_side.query(kSequences, kMaxSequences);
  for (const auto* answer : {&on_truth, &on_mirror}) {
    if (!answer->answered || !answer->error.empty()) {
      fail(key, pair,
           (answer == &on_truth ? truth_name : mirror_name) +
               (answer->answered ? answer->error : "no answer"));
      co_return false;
    }
  }
  const int64_t margin = config_.migration.mirror.sequence_margin;
  const auto mirror = sequences_of(on_mirror);
  std::string setvals;
  uint64_t moved = 0;
  for (const auto& [name, source] : sequences_of(on_truth)) {
    auto it = mirror.find(name);
    if (!source.last || it == mirror.end()) continue;  // never used, or not on the mirror
    const Sequence& target = it->second;
    const int64_t wanted = *source.last > target.max - margin ? target.max : *source.last + margin;
    const bool close_behind = !target.last || *target.last < *source.last + margin / 2;
    if (!close_behind || (target.last && *target.last >= wanted)) {
      least = std::min(least, *target.last - *source.last);
      continue;
    }
    least = std::min(least, wanted - *source.last);
    setvals += "SELECT pg_catalog.setval(" + router::quote_literal(name) + ", " +
               std::to_string(wanted) + ");";
    ++moved;
  }
  if (moved == 0) co_return true;
  const auto done = co_await mirror_side.query(setvals, 0);
  if (!done.answered || !done.error.empty()) {
    fail(key, pair, mirror_name + (done.answered ? done.error : std::string("no answer")));
    co_return false;
  }
  log::info("sequences_advanced",
            {{"database", key.first}, {"on", mirror_name.substr(0, 3)}, {"sequences", moved}});
  co_return true;
}

// Logged once per run of failures, and again after a pass succeeded.
void SequenceKeeper::fail(const Key& key, Pair& pair, const std::string& error) {
  if (pair.failing) return;
  pair.failing = true;
  log::warn("sequence_sync_failed", {{"database", key.first},
                                     {"user", key.second},
                                     {"error", error},
                                     {"effect", "tried again next pass"}});
}

}  // namespace cutover::proxy
