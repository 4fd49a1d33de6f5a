// CancelRegistry: a client's key finds the backends working for it, first the one answering the
// client, then the other; after a promotion swapped them, a secondary logged in again replaces
// the right one.
#include "proxy/auth/cancel_registry.h"

#include <gtest/gtest.h>

namespace cutover::proxy {
namespace {

std::vector<int32_t> pids(const std::vector<BackendKey>& keys) {
  std::vector<int32_t> out;
  for (const BackendKey& key : keys) out.push_back(key.process_id);
  return out;
}

TEST(CancelRegistry, FindsBothBackendsAndFollowsASwap) {
  CancelRegistry registry;
  const ClientKey client = registry.add({"old", 5432, 101, 11});
  EXPECT_EQ(client.process_id, 101);  // the backend's own pid, as drivers report it
  registry.add_secondary(client.process_id, {"new", 5433, 202, 22});
  EXPECT_EQ(pids(registry.find(client.process_id, client.secret_key)),
            (std::vector<int32_t>{101, 202}));
  EXPECT_TRUE(registry.find(client.process_id, client.secret_key + 1).empty());
  registry.swap_backends(client.process_id);  // promoted: new answers the client
  EXPECT_EQ(pids(registry.find(client.process_id, client.secret_key)),
            (std::vector<int32_t>{202, 101}));
  registry.add_secondary(client.process_id, {"old", 5432, 303, 33});  // old logged in again
  EXPECT_EQ(pids(registry.find(client.process_id, client.secret_key)),
            (std::vector<int32_t>{202, 303}));
  registry.remove(client.process_id);
  EXPECT_TRUE(registry.find(client.process_id, client.secret_key).empty());
}

}  // namespace
}  // namespace cutover::proxy
