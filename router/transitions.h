// The migration's phase transitions and the gates that guard promotion: which action moves
// which phase where, and, for promote, whether the migration is ready (shared/DESIGN.md).
// Pure: the facts come from the caller (proxy/admin/admin_server.cpp), which also applies the
// result.
#pragma once

#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "router/phase.h"

namespace cutover::router {

enum class Action { kDualWrite, kPromote, kRollback, kResume, kDecommission };

std::optional<Action> parse_action(std::string_view name);
std::string_view to_string(Action action);

// What the promotion gates look at, as the proxy sees it now.
struct PromotionFacts {
  uint32_t read_ramp = 0;             // basis points
  bool mirror_healthy = false;        // new connected and the journal live
  uint64_t journal_records = 0;       // written and not yet replayed
  uint64_t mismatches_in_window = 0;  // comparator mismatches in the last `window_seconds`
  uint64_t fallbacks_in_window = 0;   // reads new failed and old answered, in the same window
  uint64_t window_seconds = 0;
  // Differences found and not yet closed by verification or repair, however old.
  uint64_t open_divergences = 0;
  // How far the mirror's sequences were ahead of the source of truth's after the sequence
  // keeper's last complete pass, at the least (kNoSequences when none is in use); nullopt when
  // no pass completed, or the last one failed.
  static constexpr int64_t kNoSequences = std::numeric_limits<int64_t>::max();
  bool sequences_kept = false;  // the keeper runs (migration.mirror.sequence_sync_ms > 0)
  std::optional<int64_t> sequence_headroom{};
};

struct Gate {
  std::string name{};
  std::string value{};
  std::string threshold{};
  bool pass = false;
};

// Every promotion gate with its current value, in a fixed order.
std::vector<Gate> promotion_gates(const PromotionFacts& facts);

struct Transition {
  std::optional<Phase> to{};  // the phase the action leads to; nullopt when refused
  std::string refused{};      // why: the rule or the first gate that failed
  bool forced = false;        // gates failed and `force` let it through anyway
};

// Where `action` leads from `from`. Promotion needs every gate to pass unless `force`.
Transition next_phase(Phase from, Action action, const PromotionFacts& facts, bool force);

}  // namespace cutover::router
