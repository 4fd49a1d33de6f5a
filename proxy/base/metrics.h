// The process's Prometheus metrics (prometheus-cpp), counted where things happen and served by
// the admin port's /metrics. Every label set is known up front, so each metric is created
// once and counting one is an atomic add on the session's path (prometheus-cpp's
// Family::Add looks labels up under a mutex); latencies go to histograms.
#pragma once

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <array>
#include <memory>
#include <string_view>

#include "router/classify.h"
#include "router/phase.h"
#include "router/refusals.h"
#include "verify/comparator.h"

namespace cutover::proxy {

class Metrics {
 public:
  enum class MirrorResult { kApplied, kNotApplied, kUncertain };
  // Why a read routed to new was answered by old (the `reason` label).
  enum class Fallback { kConnection, kTimeout, kPrepare, kSqlstate };
  enum class Tls { kOk, kFailed };

  Metrics();

  // The registry /metrics serializes; also holds the gauges the admin port sets per scrape.
  prometheus::Registry& registry() { return *registry_; }

  void unit_routed(router::Kind kind, router::Backend target) {
    units_[static_cast<size_t>(kind)][static_cast<size_t>(target)]->Increment();
  }
  void read_fallback(Fallback reason) { fallbacks_[static_cast<size_t>(reason)]->Increment(); }
  uint64_t read_fallbacks() const;  // so far, every reason
  void mirror_write(MirrorResult result) {
    mirror_writes_[static_cast<size_t>(result)]->Increment();
  }
  void mismatch(verify::MismatchKind kind) { mismatches_[static_cast<size_t>(kind)]->Increment(); }
  // How long a unit cutover waited for took on `backend`.
  void backend_duration(router::Backend backend, double seconds) {
    durations_[static_cast<size_t>(backend)]->Observe(seconds);
  }
  void tls_handshake(Tls result) { tls_[static_cast<size_t>(result)]->Increment(); }
  void auth_failure() { auth_failures_->Increment(); }
  void refused(router::RefusalReason reason) { refused_[static_cast<size_t>(reason)]->Increment(); }

 private:
  static constexpr size_t kKinds = 6;
  static constexpr std::array<std::string_view, 4> kFallbackReasons{"connection", "timeout",
                                                                    "prepare", "sqlstate"};

  std::shared_ptr<prometheus::Registry> registry_;
  std::array<std::array<prometheus::Counter*, 2>, kKinds> units_{};
  std::array<prometheus::Counter*, kFallbackReasons.size()> fallbacks_{};
  std::array<prometheus::Counter*, 3> mirror_writes_{};
  std::array<prometheus::Counter*, 4> mismatches_{};
  std::array<prometheus::Histogram*, 2> durations_{};
  std::array<prometheus::Counter*, 2> tls_{};
  prometheus::Counter* auth_failures_ = nullptr;
  std::array<prometheus::Counter*, router::kRefusalReasons> refused_{};
};

}  // namespace cutover::proxy
