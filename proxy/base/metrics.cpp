#include "proxy/base/metrics.h"

#include <string>

namespace cutover::proxy {
namespace {

using prometheus::BuildCounter;
using prometheus::BuildHistogram;

// 100 µs to 10 s: loopback statements take a few hundred µs, lock waits seconds.
const prometheus::Histogram::BucketBoundaries& duration_buckets() {
  static const prometheus::Histogram::BucketBoundaries buckets{
      0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
      0.05,   0.1,     0.25,   0.5,   1,      2.5,   5,    10};
  return buckets;
}

}  // namespace

Metrics::Metrics() : registry_(std::make_shared<prometheus::Registry>()) {
  auto& units = BuildCounter()
                    .Name("cutover_units_total")
                    .Help(
                        "Units of work (a Query, or an extended batch up to Sync) routed, by "
                        "kind and the database that answered")
                    .Register(*registry_);
  for (size_t kind = 0; kind < kKinds; ++kind) {
    for (size_t target = 0; target < 2; ++target) {
      units_[kind][target] = &units.Add(
          {{"kind", std::string(router::kind_name(static_cast<router::Kind>(kind)))},
           {"target", std::string(router::to_string(static_cast<router::Backend>(target)))}});
    }
  }
  auto& fallbacks = BuildCounter()
                        .Name("cutover_read_fallbacks_total")
                        .Help("Reads routed to new and answered by old instead, by reason")
                        .Register(*registry_);
  for (size_t i = 0; i < kFallbackReasons.size(); ++i) {
    fallbacks_[i] = &fallbacks.Add({{"reason", std::string(kFallbackReasons[i])}});
  }
  auto& mirror = BuildCounter()
                     .Name("cutover_mirror_writes_total")
                     .Help("Mirrored units by what became of them on the mirror")
                     .Register(*registry_);
  const std::array<std::string, 3> results{"applied", "not_applied", "uncertain"};
  for (size_t i = 0; i < results.size(); ++i)
    mirror_writes_[i] = &mirror.Add({{"result", results[i]}});
  auto& mismatches = BuildCounter()
                         .Name("cutover_comparator_mismatches_by_kind_total")
                         .Help("Compared pairs whose answers differed, by kind")
                         .Register(*registry_);
  for (size_t i = 0; i < mismatches_.size(); ++i) {
    mismatches_[i] = &mismatches.Add(
        {{"kind", std::string(verify::kind_name(static_cast<verify::MismatchKind>(i)))}});
  }
  auto& durations = BuildHistogram()
                        .Name("cutover_backend_query_duration_seconds")
                        .Help(
                            "Time from sending a unit cutover waits for to its answer: "
                            "mirrored units on both databases, routed reads on new")
                        .Register(*registry_);
  for (size_t backend = 0; backend < 2; ++backend) {
    durations_[backend] = &durations.Add(
        {{"backend", std::string(router::to_string(static_cast<router::Backend>(backend)))}},
        duration_buckets());
  }
  auto& tls = BuildCounter()
                  .Name("cutover_tls_handshakes_total")
                  .Help("Client TLS handshakes, by result")
                  .Register(*registry_);
  tls_[0] = &tls.Add({{"result", "ok"}});
  tls_[1] = &tls.Add({{"result", "failed"}});
  auth_failures_ = &BuildCounter()
                        .Name("cutover_auth_failures_total")
                        .Help("Client logins refused: wrong password or unknown user")
                        .Register(*registry_)
                        .Add({});
  auto& refused = BuildCounter()
                      .Name("cutover_mirror_refused_total")
                      .Help(
                          "Units refused before old ran them, because new could not be "
                          "given the same effect, by reason")
                      .Register(*registry_);
  for (size_t i = 0; i < refused_.size(); ++i) {
    refused_[i] = &refused.Add(
        {{"reason", std::string(router::reason_name(static_cast<router::RefusalReason>(i)))}});
  }
}

uint64_t Metrics::read_fallbacks() const {
  double total = 0;
  for (const prometheus::Counter* counter : fallbacks_) total += counter->Value();
  return static_cast<uint64_t>(total);
}

}  // namespace cutover::proxy
