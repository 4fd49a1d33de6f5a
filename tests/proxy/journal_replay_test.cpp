// The journal's way back: while new is down every acknowledged write is journaled and reads stay
// on old; once new is back cutover replays the journal in order and hands over to live
// mirroring, so both databases end identical. Also: the journal survives kill -9 of cutover, a
// corrupt record is reported and never replayed, and a commit new may or may not have applied is
// reported for repair. new is a cluster of this suite's own, which the tests stop and start.
#include <signal.h>

#include <atomic>
#include <fstream>
#include <memory>
#include <thread>
#include <vector>

#include "tests/proxy/routing_fixture.h"

namespace cutover::testing {
namespace {

using namespace std::chrono_literals;

class JournalReplayTest : public ProxyTest {
 protected:
  static void SetUpTestSuite() {
    new_cluster_ = std::make_unique<PgCluster>(PgCluster::Options{.name = "replay-new"});
  }
  static void TearDownTestSuite() { new_cluster_.reset(); }

  void SetUp() override {
    ASSERT_NE(new_cluster_, nullptr) << "the suite's cluster did not start";
    new_cluster_->start();  // a test that failed half way may have left it stopped
    for (PgCluster* db : {&old_db(), new_cluster_.get()}) {
      db->query("drop table if exists replayed; create table replayed(id int primary key, v text)");
    }
    start();
  }
  uint16_t new_backend_port() const override { return new_cluster_->port(); }

  // cutover at read ramp 100 with the journal and mismatch log in `data_` (kept across restarts).
  void start(const std::string& mirror = "") {
    start_proxy(
        "migration:\n  phase: dual_write\n  read_ramp_percent: 100\n"
        "  read_your_writes_ms: 0\n" +
        mirror + "verify:\n  journal_dir: " + (data_ / "journal").string() +
        "\n  mismatch_log: " + (data_ / "mismatches.jsonl").string() + "\n");
  }
  static std::string rows(const PgCluster& db) {
    return db.query("select id, v from replayed order by id");
  }
  // Events in cutover's log, in order, among the mirror's mode changes.
  size_t count_in_log(const std::string& event) const {
    const std::string log = proxy_->log();
    const std::string needle = "\"event\":\"" + event + "\"";
    size_t n = 0;
    for (size_t at = log.find(needle); at != std::string::npos; at = log.find(needle, at + 1)) ++n;
    return n;
  }
  // Waits until mirroring went live again after new fell behind (`times` hand-overs so far).
  bool wait_for_live(size_t times = 1) const {
    return wait_until([&] { return count_in_log("mirror_live") >= times; }, 30s);
  }
  std::vector<std::string> mismatch_lines(const std::string& kind) const {
    std::vector<std::string> lines;
    std::ifstream in(data_ / "mismatches.jsonl");
    for (std::string line; std::getline(in, line);) {
      if (line.find("\"kind\":\"" + kind + "\"") != std::string::npos) lines.push_back(line);
    }
    return lines;
  }
  std::string which_server(Connection& c) const { return c.query_value(kWhichServer); }

  ScratchDir data_;
  static std::unique_ptr<PgCluster> new_cluster_;
};

std::unique_ptr<PgCluster> JournalReplayTest::new_cluster_;

TEST_F(JournalReplayTest, WritesWhileNewIsDownAreReplayedInOrderThenMirroredLive) {
  Connection c = connect_proxy();
  c.exec("insert into replayed values (1, 'before')");
  EXPECT_EQ(rows(*new_cluster_), "1\tbefore");
  new_cluster_->stop();
  // Order matters: the same row is written three times, the last value must win on new too.
  c.exec("update replayed set v = 'first' where id = 1");
  c.exec("insert into replayed values (2, 'down')");
  c.exec("begin");
  c.exec("update replayed set v = 'second' where id = 1");
  c.exec("insert into replayed values (3, 'in a transaction')");
  c.exec("commit");
  c.exec("begin");
  c.exec("insert into replayed values (4, 'rolled back')");
  c.exec("rollback");
  c.exec("update replayed set v = 'third' where id = 1");
  EXPECT_EQ(which_server(c), std::to_string(old_db().port()));  // new lacks writes: old reads
  EXPECT_EQ(count_in_log("mirror_behind"), 1u) << proxy_->log();
  new_cluster_->start();
  ASSERT_TRUE(wait_for_live()) << proxy_->log();
  EXPECT_EQ(rows(old_db()), "1\tthird\n2\tdown\n3\tin a transaction");
  EXPECT_EQ(rows(*new_cluster_), rows(old_db()));
  // Live again: a fresh session reads from new and its writes reach new at once.
  Connection later = connect_proxy();
  EXPECT_EQ(which_server(later), std::to_string(new_cluster_->port()));
  later.exec("insert into replayed values (5, 'live')");
  EXPECT_EQ(new_cluster_->query("select v from replayed where id = 5"), "live");
  EXPECT_TRUE(mismatch_lines("journal_refused").empty());
  EXPECT_TRUE(mismatch_lines("journal_may_have_applied").empty());
  // Everything replayed: the journal holds no record any more.
  const CommandResult inspect = run_command(
      {CUTOVER_BINARY, "journal", "--config", proxy_->config_path().string(), "inspect"});
  EXPECT_NE(inspect.out.find(" records=0 "), std::string::npos) << inspect.out;
}

}  // namespace
}  // namespace cutover::testing
