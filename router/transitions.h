// The migration's phase transitions and the gates that guard promotion: which action moves
// which phase where, and, for promote, whether the migration is ready (shared/DESIGN.md).
// Pure: the facts come from the caller (proxy/admin_server.cpp), which also applies the result.
#pragma once

#include <cstdint>
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
  uint64_t window_seconds = 0;
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
