// The old/new cluster pair as a GoogleTest global environment (see two_clusters.h).
// Not a general cluster pool: one pair per test binary.
#include "tests/harness/two_clusters.h"

#include <exception>
#include <future>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <utility>

namespace cutover::testing {
namespace {

struct State {
  std::mutex mutex;
  const TwoClusters* active = nullptr;  // the installed environment, between SetUp and TearDown
  std::unique_ptr<PgCluster> old_db;
  std::unique_ptr<PgCluster> new_db;
  std::exception_ptr failure;  // why start-up failed, rethrown to every later caller
};

State& state() {
  static State instance;
  return instance;
}

}  // namespace

TwoClusters::TwoClusters(PgCluster::Options old_options, PgCluster::Options new_options)
    : old_options_(std::move(old_options)), new_options_(std::move(new_options)) {}

void TwoClusters::SetUp() {
  std::lock_guard lock(state().mutex);
  if (state().active != nullptr) GTEST_FAIL() << "TwoClusters installed twice";
  state().active = this;
}

void TwoClusters::TearDown() {
  std::lock_guard lock(state().mutex);
  if (state().active != this) return;
  state().old_db.reset();
  state().new_db.reset();
  state().failure = nullptr;
  state().active = nullptr;
}

void TwoClusters::ensure_started() {
  State& s = state();
  std::lock_guard lock(s.mutex);
  if (s.active == nullptr) {
    throw std::logic_error(
        "TwoClusters::old_db()/new_db() used without a running TwoClusters environment; call "
        "cutover::testing::install_two_clusters() in main() or link cutover_test_harness_main");
  }
  if (s.failure) std::rethrow_exception(s.failure);
  if (s.old_db) return;
  try {
    // Two initdb runs in parallel halve the start-up wait on a two-core machine.
    auto new_future = std::async(std::launch::async, [options = s.active->new_options_] {
      return std::make_unique<PgCluster>(options);
    });
    std::unique_ptr<PgCluster> old_cluster;
    std::exception_ptr old_error;
    try {
      old_cluster = std::make_unique<PgCluster>(s.active->old_options_);
    } catch (...) {
      old_error = std::current_exception();
    }
    std::unique_ptr<PgCluster> new_cluster = new_future.get();  // rethrows its failure
    if (old_error) std::rethrow_exception(old_error);
    s.old_db = std::move(old_cluster);
    s.new_db = std::move(new_cluster);
  } catch (...) {
    s.failure = std::current_exception();
    throw;
  }
}

PgCluster& TwoClusters::old_db() {
  ensure_started();
  return *state().old_db;
}

PgCluster& TwoClusters::new_db() {
  ensure_started();
  return *state().new_db;
}

void install_two_clusters(PgCluster::Options old_options, PgCluster::Options new_options) {
  ::testing::AddGlobalTestEnvironment(
      new TwoClusters(std::move(old_options), std::move(new_options)));
}

}  // namespace cutover::testing
