// Open divergences against the real clusters: a difference the comparator finds, or a write
// whose values old and new computed each for itself, is a durable open item with its table,
// listed by the admin port and `cutover ctl`, counted in the metrics, and it blocks promotion
// after the mismatch window has passed and after a restart of cutover.
#include <regex>
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
  // At ramp 100, the ledger in dir_ (kept across restarts), unsafe writes allowed.
  void start() {
    start_admin(100, "  mirror: { unsafe_writes: allow }\nverify: { divergence_log: " +
                         (dir_ / "divergences.jsonl").string() + " }\n");
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
  EXPECT_TRUE(std::regex_search(listed, std::regex("\"since\":1[0-9]{12},"))) << listed;
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

// With unsafe_writes: allow, random() gives each server its own value: the write is applied
// on both, and its table is an open divergence until verification shows the rows equal, the
// statement logged once per session. now() is pinned: nothing opens. A plain SELECT of
// nextval() stores nothing: nothing opens either.
TEST_F(DivergenceTest, AnAllowedUnsafeWriteIsAnOpenDivergenceOfItsTable) {
  Connection c = connect_proxy();
  c.exec("insert into diverged values (1, now()::text)");
  c.exec("create sequence if not exists diverged_seq");
  EXPECT_EQ(c.query_value("select nextval('diverged_seq')"), "1");
  ASSERT_TRUE(wait_until([&] { return pairs_compared() >= 3; }, 10s));
  EXPECT_TRUE(contains(get("/status").body, "\"divergences\":{\"open\":0,"));
  for (int id : {2, 3}) {
    c.exec("insert into diverged values (" + std::to_string(id) + ", md5(random()::text))");
  }
  const std::string listed = get("/divergences").body;  // opened before the client's answer
  EXPECT_TRUE(contains(listed, "\"kind\":\"unpinned_write\",\"table\":\"diverged\"")) << listed;
  EXPECT_TRUE(contains(listed, "\"occurrences\":2")) << listed;
  EXPECT_NE(old_db().query("select v from diverged where id = 2"),
            TwoClusters::new_db().query("select v from diverged where id = 2"));
  const std::string log = proxy_->log();
  const size_t first = log.find("\"calls\":\"random()\"");
  EXPECT_NE(first, std::string::npos) << log;
  EXPECT_EQ(log.find("\"calls\":\"random()\"", first + 1), std::string::npos) << log;
}

}  // namespace
}  // namespace cutover::testing
