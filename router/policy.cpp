#include "router/policy.h"

#include <xxhash.h>

#include <algorithm>

namespace cutover::router {
namespace {

bool names_old_only_table(const PolicyConfig& config, const Classification& unit) {
  return std::any_of(unit.tables.begin(), unit.tables.end(), [&](const std::string& table) {
    return std::find(config.old_only_tables.begin(), config.old_only_tables.end(), table) !=
           config.old_only_tables.end();
  });
}

}  // namespace

uint64_t sticky_hash(std::string_view key) {
  // A keyed spread of the key: the bucket must not correlate with how keys look (sequential
  // application names, client ports), or a ramp step would move a skewed set of sessions.
  return XXH3_64bits_withSeed(key.data(), key.size(), 0x6375746f76657221ULL);
}

std::string percent_text(uint32_t basis_points) {
  std::string text = std::to_string(basis_points / 100);
  if (uint32_t cents = basis_points % 100; cents != 0) {
    text += (cents < 10 ? ".0" : ".") + std::to_string(cents % 10 == 0 ? cents / 10 : cents);
  }
  return text;
}

bool ramp_selects_new(uint64_t hash, uint32_t ramp) {
  return hash % kRampScale < std::min(ramp, kRampScale);
}

Decision route(Phase phase, uint32_t read_ramp, const PolicyConfig& config,
               const SessionView& session, const Classification& unit,
               std::chrono::steady_clock::time_point now) {
  const Backend truth = source_of_truth(phase);
  if (unit.kind != Kind::kRead) return {truth, kind_name(unit.kind), false};
  if (phase != Phase::kDualWrite) return {truth, "phase", true};
  // pg_backend_pid() must name the process that sends the session's NOTIFY, and so on.
  if (unit.server_bound) return {truth, "server", true};
  // A transaction's reads see its own writes only on the source of truth; a READ ONLY one has
  // none, so it may follow the ramp like single reads.
  if (session.in_transaction && !session.read_only_transaction) {
    return {truth, "transaction", true};
  }
  if (session.has_written && now - session.last_write < config.read_your_writes) {
    return {truth, "read_your_writes", true};
  }
  // Temporary tables exist, with their rows, only where the writes went.
  if (session.has_temporary) return {truth, "temporary", true};
  if (names_old_only_table(config, unit) ||
      std::find(config.old_only_users.begin(), config.old_only_users.end(), session.user) !=
          config.old_only_users.end()) {
    return {Backend::kOld, "override", true};
  }
  if (ramp_selects_new(session.sticky_hash, read_ramp)) {
    return {Backend::kNew, "ramp_new", true};
  }
  return {Backend::kOld, "ramp_old", true};
}

}  // namespace cutover::router
