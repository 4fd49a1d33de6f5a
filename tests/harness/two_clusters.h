// A GoogleTest global environment holding the "old" and "new" PostgreSQL clusters that a test
// binary migrates between. Not for tests that kill or reconfigure a cluster: make a PgCluster.
#pragma once

#include <gtest/gtest.h>

#include "tests/harness/pg_cluster.h"

namespace cutover::testing {

// The old/new cluster pair, shared by every test in the binary. Both clusters start together
// (in parallel) on the first call to old_db() or new_db(), so tests that never touch them pay
// nothing; this matters because gtest_discover_tests runs each test in its own process. They
// stop in TearDown after the last test. Register it in main() with install_two_clusters(), or
// link the cutover_test_harness_main object library, which does.
class TwoClusters : public ::testing::Environment {
 public:
  explicit TwoClusters(PgCluster::Options old_options = {.name = "old"},
                       PgCluster::Options new_options = {.name = "new"});

  void SetUp() override;
  void TearDown() override;

  // The running clusters, started on first use. Throw std::logic_error outside SetUp..TearDown
  // (e.g. not installed) and std::runtime_error if start-up failed (remembered: no retry).
  // Safe to call from several threads.
  static PgCluster& old_db();
  static PgCluster& new_db();

 private:
  static void ensure_started();

  PgCluster::Options old_options_;
  PgCluster::Options new_options_;
};

// Registers a TwoClusters environment; call from main() after InitGoogleTest.
void install_two_clusters(PgCluster::Options old_options = {.name = "old"},
                          PgCluster::Options new_options = {.name = "new"});

}  // namespace cutover::testing
