// The routing policy: which database answers one unit of work, from the phase, the read ramp,
// the session's sticky key, its transaction and recent writes, and per-table or per-user
// overrides. Pure: no I/O, no clock of its own. Not the classification it starts from
// (classify.h) nor the execution and fallback (proxy/).
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "router/classify.h"
#include "router/phase.h"

namespace cutover::router {

inline constexpr uint32_t kRampScale = 10000;  // the ramp in basis points: 0.01 % resolution

// Basis points as a percentage, without the binary rounding of a double: 1234 -> "12.34",
// 1250 -> "12.5", 5000 -> "50".
std::string percent_text(uint32_t basis_points);

struct PolicyConfig {
  // After a session writes, its reads stay on the source of truth this long.
  std::chrono::milliseconds read_your_writes{1000};
  std::vector<std::string>
      old_only_tables{};  // reads naming one of these ("t" or "s.t") stay on old
  std::vector<std::string> old_only_users{};  // these users' reads stay on old
};

// What the policy needs to know about the session sending the unit.
struct SessionView {
  uint64_t sticky_hash = 0;     // sticky_hash() of the session's sticky key
  bool in_transaction = false;  // the last ReadyForQuery said 'T' or 'E'
  bool read_only_transaction = false;
  bool has_temporary = false;  // the session created temporary relations (they live on old)
  bool has_written = false;    // the session sent a write (or DDL, unknown) ...
  std::chrono::steady_clock::time_point last_write{};  // ... and when
  std::string_view user{};
};

struct Decision {
  Backend target = Backend::kOld;
  // Why: the unit's kind_name() when it is not a read; else "phase", "server", "transaction",
  // "read_your_writes", "temporary", "override", "ramp_old" or "ramp_new". Static strings, for logs
  // and metrics labels.
  std::string_view reason;
  bool is_read = false;  // a read, so it may be retried on the source of truth if new fails
};

// The hash a sticky key maps to; the same key always gives the same value.
uint64_t sticky_hash(std::string_view key);

// Whether a key with this hash reads from new at `ramp` (0..kRampScale). Monotonic: a key on
// new at some ramp stays on new at every higher ramp, so raising the ramp only ever moves keys
// from old to new.
bool ramp_selects_new(uint64_t hash, uint32_t ramp);

// `read_ramp`: reads to new, in 1/kRampScale; only in dual_write.
Decision route(Phase phase, uint32_t read_ramp, const PolicyConfig& config,
               const SessionView& session, const Classification& unit,
               std::chrono::steady_clock::time_point now);

}  // namespace cutover::router
