// Open divergences against the real clusters: a difference the comparator finds, or a write
// whose values old and new computed each for itself, is a durable open item with its table,
// listed by the admin port and `cutover ctl`, counted in the metrics, and it blocks promotion
// after the mismatch window has passed and after a restart of cutover.
#include <string>

#include "tests/proxy/admin_fixture.h"

namespace cutover::testing {
namespace {

using namespace std::chrono_literals;

class DivergenceTest : public AdminFixture {
 protected:
  void SetUp() override {
    AdminFixture::SetUp();
    for (PgCluster* db : {&old_db(), &TwoClusters::new_db()}) {
      db->query("drop table if exists diverged; create table diverged(id int primary key, v text)");
    }
    start();
  }
  // At ramp 100, the ledger in dir_ (kept across restarts).
  void start() {
    start_admin(100, "verify: { divergence_log: " + (dir_ / "divergences.jsonl").string() + " }\n");
  }
  static bool contains(const std::string& text, const std::string& part) {
    return text.find(part) != std::string::npos;
  }
  // Write pairs the comparator has compared so far.
  uint64_t pairs_compared() {
    const std::string metrics = get("/metrics").body;
    const std::string name = "\ncutover_comparator_pairs_total ";
    const size_t at = metrics.find(name);
    return at == std::string::npos ? 0 : std::stoull(metrics.substr(at + name.size()));
  }
};

TEST_F(DivergenceTest, AMismatchStaysOpenAcrossARestartAndBlocksPromotion) {
  old_db().query("insert into diverged values (1, 'x')");  // new lacks the row
  connect_proxy().exec("update diverged set v = 'y' where id = 1");
  // The comparator runs off the client's path: wait for its finding.
  ASSERT_TRUE(
      wait_until([&] { return contains(get("/status").body, "\"divergences\":{\"open\":1"); }, 10s))
      << get("/status").body;
  EXPECT_TRUE(contains(get("/status").body, "\"tables\":[\"diverged\"]")) << get("/status").body;
  const std::string listed = get("/divergences").body;
  EXPECT_TRUE(contains(listed, "\"kind\":\"mismatch\",\"table\":\"diverged\"")) << listed;
  EXPECT_TRUE(contains(listed, "tags: old UPDATE 1 (0 rows), new UPDATE 0 (0 rows)")) << listed;
  EXPECT_TRUE(contains(get("/metrics").body, "\ncutover_divergences_open 1\n"));

  // A restart forgets the mismatch window, not the divergence.
  proxy_.reset();
  start();
  const std::string readiness = get("/readiness").body;
  EXPECT_TRUE(contains(readiness, "{\"name\":\"mismatches_in_window\",\"value\":\"0\""))
      << readiness;
  EXPECT_TRUE(contains(readiness,
                       "{\"name\":\"open_divergences\",\"value\":\"1\",\"threshold\":\"0\","
                       "\"pass\":false}"))
      << readiness;
  const HttpReply promote = post("/phase", R"({"action":"promote"})");
  EXPECT_EQ(promote.status, 409);
  EXPECT_TRUE(contains(promote.body, "gate open_divergences is 1, needs 0")) << promote.body;
  const CommandResult ctl_list = ctl({"divergences"});
  EXPECT_EQ(ctl_list.status, 0);
  EXPECT_TRUE(contains(ctl_list.out, "#1  mismatch  diverged")) << ctl_list.out;
  const CommandResult ctl_status = ctl({"status"});
  EXPECT_TRUE(contains(ctl_status.out, "divergences  1 open ([\"diverged\"])")) << ctl_status.out;
}

TEST_F(DivergenceTest, NothingIsOpenWhileBothAgree) {
  connect_proxy().exec("insert into diverged values (1, 'same')");
  EXPECT_EQ(TwoClusters::new_db().query("select v from diverged"), "same");
  ASSERT_TRUE(wait_until([&] { return pairs_compared() >= 1; }, 10s));  // the pair is compared
  const std::string status = get("/status").body;
  EXPECT_TRUE(contains(status, "\"divergences\":{\"open\":0,\"tables\":[]}")) << status;
  EXPECT_TRUE(contains(ctl({"divergences"}).out, "no open divergences"));
}

// random() gives each server its own value: the write is applied on both, and its table is an
// open divergence until verification shows the rows equal. now() is pinned: nothing opens.
TEST_F(DivergenceTest, AWriteCutoverCannotPinIsAnOpenDivergenceOfItsTable) {
  Connection c = connect_proxy();
  c.exec("insert into diverged values (1, now()::text)");
  ASSERT_TRUE(wait_until([&] { return pairs_compared() >= 1; }, 10s));
  EXPECT_TRUE(contains(get("/status").body, "\"divergences\":{\"open\":0,"));
  c.exec("insert into diverged values (2, md5(random()::text))");
  const std::string listed = get("/divergences").body;  // opened before the client's answer
  EXPECT_TRUE(contains(listed, "\"kind\":\"unpinned_write\",\"table\":\"diverged\"")) << listed;
  EXPECT_NE(old_db().query("select v from diverged where id = 2"),
            TwoClusters::new_db().query("select v from diverged where id = 2"));
}

}  // namespace
}  // namespace cutover::testing
