// main() for test binaries that run against the shared old/new clusters (TwoClusters).
// Not for binaries that need their own main(): call install_two_clusters() there instead.
#include <gtest/gtest.h>

#include "tests/harness/two_clusters.h"

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  cutover::testing::install_two_clusters();
  return RUN_ALL_TESTS();
}
