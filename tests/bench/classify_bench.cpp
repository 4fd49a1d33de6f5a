// What routing a simple-protocol query costs: a full libpg_query parse versus the literal
// normaliser and a cache hit, for pgbench's statements with a fresh constant every time
// (what an application sends). PgBouncer spends about 10 µs per select-only transaction on
// this machine; the cache hit is what must stay well below that.
#include <benchmark/benchmark.h>

#include <string>

#include "router/classify.h"
#include "router/normalize.h"

namespace {

using cutover::router::ClassificationCache;
using cutover::router::Classifier;

std::string select_for(int64_t i) {
  return "SELECT abalance FROM pgbench_accounts WHERE aid = " + std::to_string(i % 1000000 + 1) +
         ";";
}

std::string update_for(int64_t i) {
  return "UPDATE pgbench_accounts SET abalance = abalance + " + std::to_string(i % 5000 - 2500) +
         " WHERE aid = " + std::to_string(i % 1000000 + 1) + ";";
}

void full_parse(benchmark::State& state) {
  Classifier classifier;
  int64_t i = 0;
  for (auto _ : state) benchmark::DoNotOptimize(classifier.classify(select_for(i++)));
}
BENCHMARK(full_parse);

void normalise_only(benchmark::State& state) {
  int64_t i = 0;
  for (auto _ : state)
    benchmark::DoNotOptimize(cutover::router::normalize_literals(update_for(i++)));
}
BENCHMARK(normalise_only);

void cached_select(benchmark::State& state) {
  Classifier classifier;
  ClassificationCache cache(classifier, 10000);
  int64_t i = 0;
  for (auto _ : state) benchmark::DoNotOptimize(cache.classify(select_for(i++)).kind);
}
BENCHMARK(cached_select);

void cached_update(benchmark::State& state) {
  Classifier classifier;
  ClassificationCache cache(classifier, 10000);
  int64_t i = 0;
  for (auto _ : state) benchmark::DoNotOptimize(cache.classify(update_for(i++)).kind);
}
BENCHMARK(cached_update);

}  // namespace

BENCHMARK_MAIN();
