// The phase table of shared/DESIGN.md: names, source of truth and mirror per phase.
#include "router/phase.h"

#include <gtest/gtest.h>

namespace cutover::router {
namespace {

TEST(PhaseTest, NamesRoundTrip) {
  for (Phase p : {Phase::kPassthrough, Phase::kDualWrite, Phase::kPromoted, Phase::kRolledBack,
                  Phase::kDecommissioned}) {
    EXPECT_EQ(parse_phase(to_string(p)), p);
  }
  EXPECT_EQ(to_string(Phase::kDualWrite), "dual_write");
  EXPECT_EQ(parse_phase("Dual_Write"), std::nullopt);
  EXPECT_EQ(parse_phase(""), std::nullopt);
}

TEST(PhaseTest, SourceOfTruthAndMirrorFollowTheDesignTable) {
  EXPECT_EQ(source_of_truth(Phase::kPassthrough), Backend::kOld);
  EXPECT_EQ(mirror_of(Phase::kPassthrough), std::nullopt);
  EXPECT_EQ(source_of_truth(Phase::kDualWrite), Backend::kOld);
  EXPECT_EQ(mirror_of(Phase::kDualWrite), Backend::kNew);
  EXPECT_EQ(source_of_truth(Phase::kPromoted), Backend::kNew);
  EXPECT_EQ(mirror_of(Phase::kPromoted), Backend::kOld);
  EXPECT_EQ(source_of_truth(Phase::kRolledBack), Backend::kOld);
  EXPECT_EQ(mirror_of(Phase::kRolledBack), Backend::kNew);
  EXPECT_EQ(source_of_truth(Phase::kDecommissioned), Backend::kNew);
  EXPECT_EQ(mirror_of(Phase::kDecommissioned), std::nullopt);
}

}  // namespace
}  // namespace cutover::router
