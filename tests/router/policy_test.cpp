// The routing policy: phases, the ramp's resolution and monotonicity, sticky keys,
// transactions, read-your-writes and overrides.
#include "router/policy.h"

#include <gtest/gtest.h>

#include <cmath>
#include <string>

namespace cutover::router {
namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

Classification unit(Kind kind, std::vector<std::string> tables = {}) {
  Classification c;
  c.kind = kind;
  c.tables = std::move(tables);
  return c;
}

// A session whose key lands on new at any ramp above 0 (bucket 0), found by search so the
// test does not depend on the hash's particular values.
SessionView session_in_bucket(uint32_t bucket) {
  for (uint64_t i = 0;; ++i) {
    uint64_t h = sticky_hash("session-" + std::to_string(i));
    if (h % kRampScale == bucket) return SessionView{.sticky_hash = h};
  }
}

TEST(PolicyTest, OnlyDualWriteRampsReadsEveryOtherPhaseReadsTheSourceOfTruth) {
  const uint32_t ramp = kRampScale;
  PolicyConfig config;
  auto now = Clock::now();
  SessionView s = session_in_bucket(0);
  EXPECT_EQ(route(Phase::kDualWrite, ramp, config, s, unit(Kind::kRead), now).target,
            Backend::kNew);
  EXPECT_EQ(route(Phase::kPassthrough, ramp, config, s, unit(Kind::kRead), now).target,
            Backend::kOld);
  EXPECT_EQ(route(Phase::kRolledBack, ramp, config, s, unit(Kind::kRead), now).target,
            Backend::kOld);
  EXPECT_EQ(route(Phase::kPromoted, ramp, config, s, unit(Kind::kRead), now).target, Backend::kNew);
  EXPECT_EQ(route(Phase::kDecommissioned, ramp, config, s, unit(Kind::kRead), now).reason, "phase");
}

TEST(PolicyTest, EverythingButReadsGoesToTheSourceOfTruth) {
  const uint32_t ramp = kRampScale;
  PolicyConfig config;
  auto now = Clock::now();
  for (Kind kind : {Kind::kWrite, Kind::kDdl, Kind::kSession, Kind::kTransaction, Kind::kUnknown}) {
    Decision d = route(Phase::kDualWrite, ramp, config, session_in_bucket(0), unit(kind), now);
    EXPECT_EQ(d.target, Backend::kOld) << kind_name(kind);
    EXPECT_EQ(d.reason, kind_name(kind));
    EXPECT_FALSE(d.is_read);
    EXPECT_EQ(route(Phase::kPromoted, ramp, config, session_in_bucket(0), unit(kind), now).target,
              Backend::kNew);
  }
}

TEST(PolicyTest, RampHasBasisPointResolutionAndOnlyEverMovesKeysToNew) {
  EXPECT_FALSE(ramp_selects_new(sticky_hash("k"), 0));
  EXPECT_TRUE(ramp_selects_new(sticky_hash("k"), kRampScale));
  // Bucket b is on new exactly from ramp b + 1 (0.01 % steps).
  SessionView s = session_in_bucket(2500);
  EXPECT_FALSE(ramp_selects_new(s.sticky_hash, 2500));
  EXPECT_TRUE(ramp_selects_new(s.sticky_hash, 2501));
  // Over many keys: the share on new tracks the ramp, and raising it never moves a key back.
  constexpr int kKeys = 20000;
  std::vector<bool> on_new(kKeys, false);
  for (uint32_t ramp : {0u, 1u, 100u, 2500u, 5000u, 9999u, 10000u}) {
    int count = 0;
    for (int i = 0; i < kKeys; ++i) {
      bool now_new = ramp_selects_new(sticky_hash("client-" + std::to_string(i)), ramp);
      EXPECT_TRUE(now_new || !on_new[i]) << "key " << i << " left new at ramp " << ramp;
      on_new[i] = now_new;
      count += now_new;
    }
    double expected = static_cast<double>(ramp) / kRampScale * kKeys;
    // 5 standard deviations of a binomial, plus one for rounding at the ends.
    double tolerance = 5 * std::sqrt(expected * (1 - expected / kKeys)) + 1;
    EXPECT_NEAR(count, expected, tolerance) << "ramp " << ramp;
  }
}

TEST(PolicyTest, SameKeySameSideAtAFixedRamp) {
  const uint32_t ramp = 5000;
  PolicyConfig config;
  auto now = Clock::now();
  SessionView s{.sticky_hash = sticky_hash("app-42")};
  Backend first = route(Phase::kDualWrite, ramp, config, s, unit(Kind::kRead), now).target;
  for (int i = 0; i < 100; ++i) {
    EXPECT_EQ(route(Phase::kDualWrite, ramp, config, s, unit(Kind::kRead), now).target, first);
  }
  EXPECT_EQ(sticky_hash("app-42"), sticky_hash(std::string("app-") + "42"));
}

TEST(PolicyTest, ReadsInAWriteTransactionStayOnTheSourceOfTruthReadOnlyOnesRamp) {
  const uint32_t ramp = kRampScale;
  PolicyConfig config;
  auto now = Clock::now();
  SessionView s = session_in_bucket(0);
  s.in_transaction = true;
  Decision d = route(Phase::kDualWrite, ramp, config, s, unit(Kind::kRead), now);
  EXPECT_EQ(d.target, Backend::kOld);
  EXPECT_EQ(d.reason, "transaction");
  EXPECT_TRUE(d.is_read);
  s.read_only_transaction = true;
  EXPECT_EQ(route(Phase::kDualWrite, ramp, config, s, unit(Kind::kRead), now).target,
            Backend::kNew);
}

TEST(PolicyTest, ReadYourWritesHoldsReadsForTheWindowOnly) {
  const uint32_t ramp = kRampScale;
  PolicyConfig config{.read_your_writes = 1000ms};
  auto now = Clock::now();
  SessionView s = session_in_bucket(0);
  s.has_written = true;
  s.last_write = now - 999ms;
  EXPECT_EQ(route(Phase::kDualWrite, ramp, config, s, unit(Kind::kRead), now).reason,
            "read_your_writes");
  s.last_write = now - 1000ms;
  EXPECT_EQ(route(Phase::kDualWrite, ramp, config, s, unit(Kind::kRead), now).target,
            Backend::kNew);
}

TEST(PolicyTest, SessionsWithTemporaryTablesReadFromTheSourceOfTruth) {
  const uint32_t ramp = kRampScale;
  PolicyConfig config;
  SessionView s = session_in_bucket(0);
  s.has_temporary = true;
  Decision d = route(Phase::kDualWrite, ramp, config, s, unit(Kind::kRead), Clock::now());
  EXPECT_EQ(d.target, Backend::kOld);
  EXPECT_EQ(d.reason, "temporary");
}

TEST(PolicyTest, QuestionsAboutTheSessionsOwnServerGoToTheSourceOfTruthAtAnyRamp) {
  PolicyConfig config;
  Classification read = unit(Kind::kRead);
  read.server_bound = true;
  Decision d =
      route(Phase::kDualWrite, kRampScale, config, session_in_bucket(0), read, Clock::now());
  EXPECT_EQ(d.target, Backend::kOld);
  EXPECT_EQ(d.reason, "server");
  EXPECT_TRUE(d.is_read);
}

TEST(PolicyTest, TableAndUserOverridesKeepReadsOnOld) {
  const uint32_t ramp = kRampScale;
  PolicyConfig config{.old_only_tables = {"payments", "audit.log"},
                      .old_only_users = {"reporting"}};
  auto now = Clock::now();
  SessionView s = session_in_bucket(0);
  EXPECT_EQ(
      route(Phase::kDualWrite, ramp, config, s, unit(Kind::kRead, {"orders", "payments"}), now)
          .reason,
      "override");
  EXPECT_EQ(route(Phase::kDualWrite, ramp, config, s, unit(Kind::kRead, {"audit.log"}), now).target,
            Backend::kOld);
  EXPECT_EQ(route(Phase::kDualWrite, ramp, config, s, unit(Kind::kRead, {"log"}), now).target,
            Backend::kNew);
  s.user = "reporting";
  EXPECT_EQ(route(Phase::kDualWrite, ramp, config, s, unit(Kind::kRead, {"orders"}), now).target,
            Backend::kOld);
}

}  // namespace
}  // namespace cutover::router
