#include "router/phase.h"

#include <array>
#include <utility>

namespace cutover::router {
namespace {

constexpr std::array<std::pair<Phase, std::string_view>, 5> kPhaseNames{{
    {Phase::kPassthrough, "passthrough"},
    {Phase::kDualWrite, "dual_write"},
    {Phase::kPromoted, "promoted"},
    {Phase::kRolledBack, "rolled_back"},
    {Phase::kDecommissioned, "decommissioned"},
}};

}  // namespace

std::string_view to_string(Phase phase) {
  for (const auto& [p, name] : kPhaseNames) {
    if (p == phase) return name;
  }
  return "unknown";
}

std::string_view to_string(Backend backend) { return backend == Backend::kOld ? "old" : "new"; }

std::optional<Phase> parse_phase(std::string_view name) {
  for (const auto& [p, n] : kPhaseNames) {
    if (n == name) return p;
  }
  return std::nullopt;
}

Backend source_of_truth(Phase phase) {
  switch (phase) {
    case Phase::kPromoted:
    case Phase::kDecommissioned:
      return Backend::kNew;
    case Phase::kPassthrough:
    case Phase::kDualWrite:
    case Phase::kRolledBack:
      return Backend::kOld;
  }
  return Backend::kOld;
}

std::optional<Backend> mirror_of(Phase phase) {
  switch (phase) {
    case Phase::kDualWrite:
    case Phase::kRolledBack:
      return Backend::kNew;
    case Phase::kPromoted:
      return Backend::kOld;
    case Phase::kPassthrough:
    case Phase::kDecommissioned:
      return std::nullopt;
  }
  return std::nullopt;
}

}  // namespace cutover::router
