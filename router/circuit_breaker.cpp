#include "router/circuit_breaker.h"

#include <algorithm>
#include <string_view>

namespace cutover::router {
namespace {

int64_t seconds_of(CircuitBreaker::Clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count();
}

}  // namespace

CircuitBreaker::CircuitBreaker(BreakerOptions options)
    : options_(options), tokens_(options.fallbacks_per_second) {}

CircuitBreaker::Bucket& CircuitBreaker::bucket(int64_t second) {
  Bucket& b = buckets_[static_cast<size_t>(second) % kBuckets];
  if (b.second != second) b = Bucket{second, 0, 0};
  return b;
}

void CircuitBreaker::refill(Clock::time_point now) {
  if (refilled_at_ == Clock::time_point{}) refilled_at_ = now;
  double elapsed = std::chrono::duration<double>(now - refilled_at_).count();
  tokens_ = std::min<double>(options_.fallbacks_per_second,
                             tokens_ + elapsed * options_.fallbacks_per_second);
  refilled_at_ = now;
}

bool CircuitBreaker::allow(Clock::time_point now) {
  std::lock_guard lock(mutex_);
  refill(now);
  if (tokens_ < 1) return false;  // budget spent: shed to old until it refills
  if (state_ == BreakerState::kClosed) return true;
  if (state_ == BreakerState::kOpen && now - opened_at_ >= options_.cooldown) {
    state_ = BreakerState::kHalfOpen;
    probe_in_flight_ = false;
  }
  if (state_ == BreakerState::kHalfOpen && !probe_in_flight_) {
    probe_in_flight_ = true;  // exactly one probe until its outcome is recorded
    return true;
  }
  return false;
}

std::optional<BreakerState> CircuitBreaker::record(bool ok, Clock::time_point now) {
  std::lock_guard lock(mutex_);
  if (!ok) {
    refill(now);
    tokens_ = std::max(0.0, tokens_ - 1);
  }
  if (state_ == BreakerState::kHalfOpen) {
    probe_in_flight_ = false;
    if (ok) {
      state_ = BreakerState::kClosed;
      buckets_.fill(Bucket{});
    } else {
      state_ = BreakerState::kOpen;
      opened_at_ = now;
    }
    return state_;
  }
  int64_t second = seconds_of(now);
  Bucket& b = bucket(second);
  ++b.reads;
  b.failures += ok ? 0 : 1;
  if (state_ != BreakerState::kClosed || ok) return std::nullopt;
  uint64_t reads = 0;
  uint64_t failures = 0;
  for (const Bucket& each : buckets_) {
    if (each.second > second - options_.window.count() && each.second <= second) {
      reads += each.reads;
      failures += each.failures;
    }
  }
  if (reads >= options_.min_reads &&
      static_cast<double>(failures) > options_.error_rate * static_cast<double>(reads)) {
    state_ = BreakerState::kOpen;
    opened_at_ = now;
    return state_;
  }
  return std::nullopt;
}

BreakerState CircuitBreaker::state(Clock::time_point now) {
  std::lock_guard lock(mutex_);
  if (state_ == BreakerState::kOpen && now - opened_at_ >= options_.cooldown) {
    return BreakerState::kHalfOpen;
  }
  return state_;
}

std::string_view to_string(BreakerState state) {
  switch (state) {
    case BreakerState::kClosed:
      return "closed";
    case BreakerState::kOpen:
      return "open";
    case BreakerState::kHalfOpen:
      return "half_open";
  }
  return "?";
}

}  // namespace cutover::router
