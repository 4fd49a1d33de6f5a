// The circuit breaker over reads to new and the fallback budget, driven by an explicit clock.
#include "router/circuit_breaker.h"

#include <gtest/gtest.h>

namespace cutover::router {
namespace {

using namespace std::chrono_literals;
using Clock = CircuitBreaker::Clock;

const Clock::time_point kStart = Clock::time_point{} + 1000h;

TEST(CircuitBreakerTest, OpensOnlyPastTheErrorRateOverEnoughReads) {
  CircuitBreaker breaker({.error_rate = 0.05, .min_reads = 100});
  for (int i = 0; i < 95; ++i) breaker.record(true, kStart);
  for (int i = 0; i < 5; ++i) breaker.record(false, kStart);
  EXPECT_EQ(breaker.state(kStart), BreakerState::kClosed);  // 5 % is not above 5 %
  breaker.record(false, kStart);                            // 6 of 101
  EXPECT_EQ(breaker.state(kStart), BreakerState::kOpen);
  EXPECT_FALSE(breaker.allow(kStart + 1s));
}

TEST(CircuitBreakerTest, TooFewReadsNeverOpenIt) {
  CircuitBreaker breaker({.min_reads = 20});
  for (int i = 0; i < 19; ++i) breaker.record(false, kStart);
  EXPECT_EQ(breaker.state(kStart), BreakerState::kClosed);
  EXPECT_TRUE(breaker.allow(kStart));
  breaker.record(false, kStart);
  EXPECT_EQ(breaker.state(kStart), BreakerState::kOpen);
}

TEST(CircuitBreakerTest, FailuresOlderThanTheWindowDoNotCount) {
  CircuitBreaker breaker({.min_reads = 20, .window = 10s});
  for (int i = 0; i < 15; ++i) breaker.record(false, kStart);
  for (int i = 0; i < 10; ++i) breaker.record(false, kStart + 11s);
  EXPECT_EQ(breaker.state(kStart + 11s), BreakerState::kClosed);  // only 10 in the window
  for (int i = 0; i < 10; ++i) breaker.record(false, kStart + 12s);
  EXPECT_EQ(breaker.state(kStart + 12s), BreakerState::kOpen);
}

TEST(CircuitBreakerTest, AfterTheCooldownOneProbeDecides) {
  CircuitBreaker breaker({.min_reads = 1, .cooldown = 30s});
  breaker.record(false, kStart);
  ASSERT_EQ(breaker.state(kStart), BreakerState::kOpen);
  EXPECT_FALSE(breaker.allow(kStart + 29s));
  EXPECT_EQ(breaker.state(kStart + 30s), BreakerState::kHalfOpen);
  EXPECT_TRUE(breaker.allow(kStart + 30s));   // the probe
  EXPECT_FALSE(breaker.allow(kStart + 30s));  // only one at a time
  breaker.record(false, kStart + 31s);        // probe failed: open for another cooldown
  EXPECT_FALSE(breaker.allow(kStart + 60s));
  EXPECT_TRUE(breaker.allow(kStart + 61s));
  breaker.record(true, kStart + 61s);  // probe succeeded
  EXPECT_EQ(breaker.state(kStart + 61s), BreakerState::kClosed);
  EXPECT_TRUE(breaker.allow(kStart + 61s));
  EXPECT_TRUE(breaker.allow(kStart + 61s));
}

TEST(CircuitBreakerTest, SpentFallbackBudgetShedsReadsUntilItRefills) {
  // Error rate 100 %: the breaker itself never opens, so only the budget acts.
  CircuitBreaker breaker({.error_rate = 1.0, .fallbacks_per_second = 10});
  for (int i = 0; i < 9; ++i) breaker.record(false, kStart);
  EXPECT_TRUE(breaker.allow(kStart));
  breaker.record(false, kStart);
  EXPECT_FALSE(breaker.allow(kStart));         // 10 fallbacks within the second
  EXPECT_FALSE(breaker.allow(kStart + 50ms));  // half a token back
  EXPECT_TRUE(breaker.allow(kStart + 100ms));  // one token back
  EXPECT_EQ(breaker.state(kStart), BreakerState::kClosed);
}

TEST(CircuitBreakerTest, NamesItsStates) {
  EXPECT_EQ(to_string(BreakerState::kClosed), "closed");
  EXPECT_EQ(to_string(BreakerState::kOpen), "open");
  EXPECT_EQ(to_string(BreakerState::kHalfOpen), "half_open");
}

}  // namespace
}  // namespace cutover::router
