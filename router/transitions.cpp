#include "router/transitions.h"

#include <array>
#include <utility>

#include "router/policy.h"

namespace cutover::router {
namespace {

constexpr std::array<std::pair<Action, std::string_view>, 5> kActionNames{{
    {Action::kDualWrite, "dual_write"},
    {Action::kPromote, "promote"},
    {Action::kRollback, "rollback"},
    {Action::kResume, "resume"},
    {Action::kDecommission, "decommission"},
}};

// The phases each action starts from, and where it leads.
struct Rule {
  Action action;
  std::array<std::optional<Phase>, 2> from;
  Phase to;
};
constexpr std::array<Rule, 5> kRules{{
    {Action::kDualWrite, {Phase::kPassthrough, std::nullopt}, Phase::kDualWrite},
    {Action::kPromote, {Phase::kDualWrite, std::nullopt}, Phase::kPromoted},
    {Action::kRollback, {Phase::kDualWrite, Phase::kPromoted}, Phase::kRolledBack},
    {Action::kResume, {Phase::kRolledBack, std::nullopt}, Phase::kDualWrite},
    {Action::kDecommission, {Phase::kPromoted, std::nullopt}, Phase::kDecommissioned},
}};

}  // namespace

std::optional<Action> parse_action(std::string_view name) {
  for (const auto& [action, n] : kActionNames) {
    if (n == name) return action;
  }
  return std::nullopt;
}

std::string_view to_string(Action action) {
  for (const auto& [a, name] : kActionNames) {
    if (a == action) return name;
  }
  return "unknown";
}

namespace {

Gate headroom_gate(const PromotionFacts& facts) {
  Gate gate{.name = "sequence_headroom", .threshold = ">= 0"};
  if (!facts.sequences_kept) {
    gate.value = "not kept (sequence_sync_ms is 0)";
  } else if (!facts.sequence_headroom) {
    gate.value = "unknown (no complete keeper pass)";
  } else if (*facts.sequence_headroom == PromotionFacts::kNoSequences) {
    gate.value = "no sequence in use";
    gate.pass = true;
  } else {
    gate.value = std::to_string(*facts.sequence_headroom);
    gate.pass = *facts.sequence_headroom >= 0;
  }
  return gate;
}

}  // namespace

std::vector<Gate> promotion_gates(const PromotionFacts& facts) {
  const std::string window = "0 in " + std::to_string(facts.window_seconds) + " s";
  return {
      {"read_ramp_percent", percent_text(facts.read_ramp), "100", facts.read_ramp == 10000},
      {"mirror_healthy", facts.mirror_healthy ? "true" : "false", "true", facts.mirror_healthy},
      {"journal_records", std::to_string(facts.journal_records), "0", facts.journal_records == 0},
      {"mismatches_in_window", std::to_string(facts.mismatches_in_window), window,
       facts.mismatches_in_window == 0},
      {"fallbacks_in_window", std::to_string(facts.fallbacks_in_window), window,
       facts.fallbacks_in_window == 0},
      {"open_divergences", std::to_string(facts.open_divergences), "0",
       facts.open_divergences == 0},
      headroom_gate(facts),
  };
}

Transition next_phase(Phase from, Action action, const PromotionFacts& facts, bool force) {
  for (const Rule& rule : kRules) {
    if (rule.action != action) continue;
    if (rule.from[0] != from && rule.from[1] != from) {
      return {.refused = std::string(to_string(action)) + " is not possible in phase " +
                         std::string(to_string(from))};
    }
    Transition transition{.to = rule.to};
    if (action != Action::kPromote) return transition;
    for (const Gate& gate : promotion_gates(facts)) {
      if (gate.pass) continue;
      if (!force) {
        return {.refused = "gate " + gate.name + " is " + gate.value + ", needs " + gate.threshold};
      }
      transition.forced = true;
    }
    return transition;
  }
  return {.refused = "unknown action"};
}

}  // namespace cutover::router
