// Protects old from a failing new: a circuit breaker over the outcome of reads sent to new, and
// a fallback budget. Pure (the caller passes the time) and thread-safe: one per process, shared
// by every session. Not the routing policy (policy.h), which it only vetoes.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string_view>

namespace cutover::router {

struct BreakerOptions {
  double error_rate = 0.05;             // failed share of reads to new that opens the breaker
  uint32_t min_reads = 20;              // ... counted over at least this many reads
  std::chrono::seconds window{10};      // ... in this sliding window
  std::chrono::seconds cooldown{30};    // open this long, then one probe read is let through
  uint32_t fallbacks_per_second = 100;  // the budget: fallbacks old absorbs per second
};

enum class BreakerState { kClosed, kOpen, kHalfOpen };

class CircuitBreaker {
 public:
  using Clock = std::chrono::steady_clock;
  explicit CircuitBreaker(BreakerOptions options);

  // Whether a read the policy sent to new may go there now. False while the breaker is open
  // (except one probe per cooldown, when it turns half-open) and while the fallback budget is
  // spent: such reads are shed to old directly, so a failing new costs old no more than a
  // lower ramp would, never a storm of slow retries.
  bool allow(Clock::time_point now);
  // The outcome of a read that went to new: `ok` false when it fell back to old. Returns the
  // new state when this outcome changed it (for the log), nullopt otherwise.
  std::optional<BreakerState> record(bool ok, Clock::time_point now);

  BreakerState state(Clock::time_point now);

 private:
  struct Bucket {
    int64_t second = -1;
    uint32_t reads = 0;
    uint32_t failures = 0;
  };
  static constexpr size_t kBuckets = 64;  // covers windows up to 64 s

  Bucket& bucket(int64_t second);
  void refill(Clock::time_point now);

  const BreakerOptions options_;
  std::mutex mutex_;
  std::array<Bucket, kBuckets> buckets_{};
  BreakerState state_ = BreakerState::kClosed;
  Clock::time_point opened_at_{};
  bool probe_in_flight_ = false;
  double tokens_;
  Clock::time_point refilled_at_{};
};

std::string_view to_string(BreakerState state);

}  // namespace cutover::router
