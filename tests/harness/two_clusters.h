// A GoogleTest global environment holding the "old" and "new" PostgreSQL clusters that a test
// binary migrates between. Not for tests that kill or reconfigure a cluster: make a PgCluster.
#pragma once

#include <gtest/gtest.h>

#include "tests/harness/pg_cluster.h"

namespace cutover::testing {

// Starts both clusters (concurrently) once per test binary, before the first test; stops them
// after the last. Tests reach them through the static accessors. Register it in main() with
// install_two_clusters(), or link the cutover_test_harness_main object library which does.
//
// Note: gtest_discover_tests runs every test in its own process, so each test pays the ~1-2 s
// start-up. Suites with many tests may prefer one add_test() running the whole binary.
class TwoClusters : public ::testing::Environment {
 public:
  explicit TwoClusters(PgCluster::Options old_options = {.name = "old"},
                       PgCluster::Options new_options = {.name = "new"});

  // A start-up failure is a fatal failure: GoogleTest then runs no test and the binary fails.
  void SetUp() override;
  void TearDown() override;

  // The running clusters; throw std::logic_error outside SetUp..TearDown (e.g. not installed).
  static PgCluster& old_db();
  static PgCluster& new_db();

 private:
  PgCluster::Options old_options_;
  PgCluster::Options new_options_;
};

// Registers a TwoClusters environment; call from main() after InitGoogleTest.
void install_two_clusters(PgCluster::Options old_options = {.name = "old"},
                          PgCluster::Options new_options = {.name = "new"});

}  // namespace cutover::testing
