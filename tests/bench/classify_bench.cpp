// What routing a unit of work costs: for a simple-protocol query, a full libpg_query parse
// versus the literal normaliser and a cache hit, for pgbench's statements with a fresh
// constant every time (what an application sends); for an extended-protocol batch, planning
// it (router/extended.h) with a prepared statement (Bind/Execute/Sync) and with the unnamed
// one (Parse/Bind/Execute/Sync). PgBouncer spends about 10 µs per select-only transaction on
// this machine; these are what must stay well below that.
#include <benchmark/benchmark.h>

#include <string>
#include <vector>

#include "protocol/frontend.h"
#include "router/classify.h"
#include "router/extended.h"
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

// Plans (and records) one batch per iteration, as a session does for each one it routes.
void plan_batches(benchmark::State& state, bool named) {
  using namespace cutover::protocol;
  Classifier classifier;
  ClassificationCache cache(classifier, 10000);
  auto classify = [&](std::string_view sql) -> const cutover::router::Classification& {
    return cache.classify(sql);
  };
  const std::string sql = "SELECT abalance FROM pgbench_accounts WHERE aid = $1";
  cutover::router::PreparedStatements statements;
  std::string prepare;
  encode(Parse{.statement = "P0_1", .query = sql}, prepare);
  encode(Sync{}, prepare);
  statements.apply(prepare, statements.plan(prepare, classify), true, true);
  // Built beforehand, so the loop measures planning, not encoding.
  std::vector<std::string> batches(4096);
  for (size_t k = 0; k < batches.size(); ++k) {
    if (!named) encode(Parse{.query = sql}, batches[k]);
    encode(Bind{.statement = named ? "P0_1" : "", .parameters = {std::to_string(k)}}, batches[k]);
    encode(Execute{}, batches[k]);
    encode(Sync{}, batches[k]);
  }
  size_t k = 0;
  for (auto _ : state) {
    const std::string& batch = batches[k++ % batches.size()];
    auto plan = statements.plan(batch, classify);
    statements.apply(batch, plan, false, true);
    benchmark::DoNotOptimize(plan.unit.kind);
  }
}
void plan_prepared(benchmark::State& state) { plan_batches(state, true); }
BENCHMARK(plan_prepared);
void plan_unnamed(benchmark::State& state) { plan_batches(state, false); }
BENCHMARK(plan_unnamed);

}  // namespace

BENCHMARK_MAIN();
