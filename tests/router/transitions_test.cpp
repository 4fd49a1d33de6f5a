// The phase transitions and the promotion gates: every action from every phase, and promote
// refused by the first failing gate unless forced.
#include "router/transitions.h"

#include <gtest/gtest.h>

namespace cutover::router {
namespace {

PromotionFacts ready() {
  return {.read_ramp = 10000,
          .mirror_healthy = true,
          .window_seconds = 600,
          .sequences_kept = true,
          .sequence_headroom = 1000};
}

TEST(TransitionsTest, EachActionLeadsFromItsPhasesOnly) {
  const std::vector<std::tuple<Phase, Action, std::optional<Phase>>> cases{
      {Phase::kPassthrough, Action::kDualWrite, Phase::kDualWrite},
      {Phase::kDualWrite, Action::kPromote, Phase::kPromoted},
      {Phase::kDualWrite, Action::kRollback, Phase::kRolledBack},
      {Phase::kPromoted, Action::kRollback, Phase::kRolledBack},
      {Phase::kRolledBack, Action::kResume, Phase::kDualWrite},
      {Phase::kPromoted, Action::kDecommission, Phase::kDecommissioned},
      {Phase::kPassthrough, Action::kPromote, std::nullopt},
      {Phase::kPassthrough, Action::kRollback, std::nullopt},
      {Phase::kRolledBack, Action::kPromote, std::nullopt},
      {Phase::kDualWrite, Action::kDecommission, std::nullopt},
      {Phase::kDecommissioned, Action::kRollback, std::nullopt},
      {Phase::kDualWrite, Action::kDualWrite, std::nullopt},
      {Phase::kDualWrite, Action::kResume, std::nullopt},
  };
  for (const auto& [from, action, to] : cases) {
    const Transition t = next_phase(from, action, ready(), false);
    EXPECT_EQ(t.to, to) << to_string(action) << " from " << to_string(from);
    if (!to) {
      EXPECT_EQ(t.refused, std::string(to_string(action)) + " is not possible in phase " +
                               std::string(to_string(from)));
    }
  }
}

TEST(TransitionsTest, PromotionNamesTheFirstGateThatFailsUnlessForced) {
  PromotionFacts facts = ready();
  facts.read_ramp = 5000;
  facts.journal_records = 3;
  Transition t = next_phase(Phase::kDualWrite, Action::kPromote, facts, false);
  EXPECT_FALSE(t.to.has_value());
  EXPECT_EQ(t.refused, "gate read_ramp_percent is 50, needs 100");
  facts.read_ramp = 10000;
  t = next_phase(Phase::kDualWrite, Action::kPromote, facts, false);
  EXPECT_EQ(t.refused, "gate journal_records is 3, needs 0");
  facts.journal_records = 0;
  facts.open_divergences = 1;  // however long ago it was found
  t = next_phase(Phase::kDualWrite, Action::kPromote, facts, false);
  EXPECT_EQ(t.refused, "gate open_divergences is 1, needs 0");
  t = next_phase(Phase::kDualWrite, Action::kPromote, facts, true);
  EXPECT_EQ(t.to, Phase::kPromoted);
  EXPECT_TRUE(t.forced);
  t = next_phase(Phase::kDualWrite, Action::kPromote, ready(), false);
  EXPECT_EQ(t.to, Phase::kPromoted);
  EXPECT_FALSE(t.forced);
}

TEST(TransitionsTest, GatesReportEveryValueAndThreshold) {
  PromotionFacts facts = ready();
  facts.read_ramp = 2525;
  facts.mirror_healthy = false;
  facts.mismatches_in_window = 2;
  facts.fallbacks_in_window = 1;
  facts.open_divergences = 4;
  facts.sequence_headroom = -3;
  const auto gates = promotion_gates(facts);
  ASSERT_EQ(gates.size(), 7u);
  EXPECT_EQ(gates[0].value, "25.25");
  EXPECT_FALSE(gates[0].pass);
  EXPECT_EQ(gates[1].name, "mirror_healthy");
  EXPECT_EQ(gates[1].value, "false");
  EXPECT_TRUE(gates[2].pass);
  EXPECT_EQ(gates[3].value, "2");
  EXPECT_EQ(gates[3].threshold, "0 in 600 s");
  EXPECT_FALSE(gates[3].pass);
  EXPECT_EQ(gates[4].name, "fallbacks_in_window");
  EXPECT_EQ(gates[4].value, "1");
  EXPECT_FALSE(gates[4].pass);
  EXPECT_EQ(gates[5].name, "open_divergences");
  EXPECT_EQ(gates[5].value, "4");
  EXPECT_EQ(gates[5].threshold, "0");
  EXPECT_FALSE(gates[5].pass);
  EXPECT_EQ(gates[6].name, "sequence_headroom");
  EXPECT_EQ(gates[6].value, "-3");
  EXPECT_EQ(gates[6].threshold, ">= 0");
  EXPECT_FALSE(gates[6].pass);
}

TEST(TransitionsTest, SequenceHeadroomNeedsAKeeperAndACompletePass) {
  auto headroom = [](PromotionFacts facts) { return promotion_gates(facts)[6]; };
  PromotionFacts facts = ready();
  EXPECT_TRUE(headroom(facts).pass);
  EXPECT_EQ(headroom(facts).value, "1000");
  facts.sequence_headroom = PromotionFacts::kNoSequences;
  EXPECT_EQ(headroom(facts).value, "no sequence in use");
  EXPECT_TRUE(headroom(facts).pass);
  facts.sequence_headroom.reset();
  EXPECT_EQ(headroom(facts).value, "unknown (no complete keeper pass)");
  EXPECT_FALSE(headroom(facts).pass);
  facts.sequences_kept = false;
  EXPECT_EQ(headroom(facts).value, "not kept (sequence_sync_ms is 0)");
  EXPECT_FALSE(headroom(facts).pass);
  const Transition t = next_phase(Phase::kDualWrite, Action::kPromote, facts, false);
  EXPECT_EQ(t.refused, "gate sequence_headroom is not kept (sequence_sync_ms is 0), needs >= 0");
}

TEST(TransitionsTest, ActionsHaveTheirInterfaceNames) {
  for (const char* name : {"dual_write", "promote", "rollback", "resume", "decommission"}) {
    auto action = parse_action(name);
    ASSERT_TRUE(action.has_value()) << name;
    EXPECT_EQ(to_string(*action), name);
  }
  EXPECT_FALSE(parse_action("promoted").has_value());
}

}  // namespace
}  // namespace cutover::router
