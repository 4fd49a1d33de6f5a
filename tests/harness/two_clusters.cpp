// The old/new cluster pair as a GoogleTest global environment (see two_clusters.h).
// Not thread-safe set-up: GoogleTest calls SetUp/TearDown from main's thread.
#include "tests/harness/two_clusters.h"

#include <exception>
#include <future>
#include <memory>
#include <stdexcept>
#include <utility>

namespace cutover::testing {
namespace {

std::unique_ptr<PgCluster>& old_slot() {
  static std::unique_ptr<PgCluster> cluster;
  return cluster;
}

std::unique_ptr<PgCluster>& new_slot() {
  static std::unique_ptr<PgCluster> cluster;
  return cluster;
}

PgCluster& running(std::unique_ptr<PgCluster>& slot, const char* which) {
  if (!slot) {
    throw std::logic_error(std::string("TwoClusters::") + which +
                           "() used without a running TwoClusters environment; call "
                           "cutover::testing::install_two_clusters() in main()");
  }
  return *slot;
}

}  // namespace

TwoClusters::TwoClusters(PgCluster::Options old_options, PgCluster::Options new_options)
    : old_options_(std::move(old_options)), new_options_(std::move(new_options)) {}

void TwoClusters::SetUp() {
  try {
    // Two initdb runs in parallel halve the start-up wait on a two-core machine.
    auto new_future = std::async(std::launch::async, [options = new_options_] {
      return std::make_unique<PgCluster>(options);
    });
    std::unique_ptr<PgCluster> old_cluster;
    std::exception_ptr old_error;
    try {
      old_cluster = std::make_unique<PgCluster>(old_options_);
    } catch (...) {
      old_error = std::current_exception();
    }
    std::unique_ptr<PgCluster> new_cluster = new_future.get();  // rethrows its failure
    if (old_error) std::rethrow_exception(old_error);
    old_slot() = std::move(old_cluster);
    new_slot() = std::move(new_cluster);
  } catch (const std::exception& e) {
    GTEST_FAIL() << "TwoClusters could not start the old/new clusters: " << e.what();
  }
}

void TwoClusters::TearDown() {
  old_slot().reset();
  new_slot().reset();
}

PgCluster& TwoClusters::old_db() { return running(old_slot(), "old_db"); }

PgCluster& TwoClusters::new_db() { return running(new_slot(), "new_db"); }

void install_two_clusters(PgCluster::Options old_options, PgCluster::Options new_options) {
  ::testing::AddGlobalTestEnvironment(
      new TwoClusters(std::move(old_options), std::move(new_options)));
}

}  // namespace cutover::testing
