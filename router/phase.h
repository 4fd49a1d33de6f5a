// The migration phases and which database plays which role in each (shared/DESIGN.md table).
// Not the transition rules or their guards: those come with the control plane.
#pragma once

#include <optional>
#include <string_view>

namespace cutover::router {

enum class Phase { kPassthrough, kDualWrite, kPromoted, kRolledBack, kDecommissioned };
enum class Backend { kOld, kNew };

std::string_view to_string(Phase phase);
std::string_view to_string(Backend backend);
inline Backend other(Backend backend) {
  return backend == Backend::kOld ? Backend::kNew : Backend::kOld;
}
std::optional<Phase> parse_phase(std::string_view name);

// Where writes go and whose answers the client sees.
Backend source_of_truth(Phase phase);
// Where writes are mirrored, if anywhere.
std::optional<Backend> mirror_of(Phase phase);

}  // namespace cutover::router
