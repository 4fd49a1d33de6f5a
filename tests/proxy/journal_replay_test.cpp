// The journal's way back: while new is down every acknowledged write is journaled and reads stay
// on old; once new is back cutover replays the journal in order and hands over to live
// mirroring, so both databases end identical. Also: the journal survives kill -9 of cutover, a
// corrupt record is reported and never replayed, and a promotion waits until new has every
// journaled write. What the journal reports for repair: journal_report_test.cpp.
#include <libpq-fe.h>
#include <signal.h>

#include <atomic>
#include <fstream>
#include <memory>
#include <vector>

#include "protocol/frontend.h"
#include "tests/proxy/journal_fixture.h"

namespace cutover::testing {
namespace {

using namespace std::chrono_literals;

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
  // A COPY's record holds the Query and its data: replay must feed the data to new too.
  EXPECT_EQ(c.copy_in("copy replayed from stdin", "6\tcopied\n7\tcopied too\n"), "COPY 2");
  EXPECT_EQ(which_server(c), std::to_string(old_db().port()));  // new lacks writes: old reads
  EXPECT_EQ(count_in_log("mirror_behind"), 1u) << proxy_->log();
  new_cluster_->start();
  ASSERT_TRUE(wait_for_live()) << proxy_->log();
  EXPECT_EQ(rows(old_db()), "1\tthird\n2\tdown\n3\tin a transaction\n6\tcopied\n7\tcopied too");
  EXPECT_EQ(rows(*new_cluster_), rows(old_db()));
  // Live again: a fresh session reads from new and its writes reach new at once.
  Connection later = connect_proxy();
  EXPECT_EQ(which_server(later), std::to_string(new_cluster_->port()));
  later.exec("insert into replayed values (5, 'live')");
  EXPECT_EQ(new_cluster_->query("select v from replayed where id = 5"), "live");
  EXPECT_TRUE(mismatch_lines("journal_refused").empty());
  EXPECT_TRUE(mismatch_lines("journal_may_have_applied").empty());
  // Everything replayed, and the later write's intent passed over (within a second, new has
  // it): no record waits.
  CommandResult inspect;
  EXPECT_TRUE(wait_until(
      [&] {
        inspect = run_command(
            {CUTOVER_BINARY, "journal", "--config", proxy_->config_path().string(), "inspect"});
        return inspect.out.find(" waiting=0\n") != std::string::npos;
      },
      5s))
      << inspect.out;
}

// A CREATE TABLE AS of 300,000 rows takes new longer than mirror.timeout_ms: it is journaled
// and replayed whole (the replay waits longer on each try), never dropped; the writes after it
// reach new, and both databases end identical.
TEST_F(JournalReplayTest, ALongCreateTableAsIsReplayedNotDropped) {
  old_db().query("drop table if exists fs");
  new_cluster_->query("drop table if exists fs");
  start("  mirror: { timeout_ms: 100 }\n");
  Connection c = connect_proxy();
  c.exec("create table fs as select g as id, md5(g::text) as h from generate_series(1, 300000) g");
  c.exec("alter table fs add primary key (id)");  // its UPDATEs name rows by key
  for (int i = 1; i <= 20; ++i) c.exec("update fs set h = 'after' where id = " + std::to_string(i));
  c.exec("insert into fs values (0, 'zero')");
  ASSERT_TRUE(wait_for_live()) << proxy_->log();
  EXPECT_NE(proxy_->log().find("\"reason\":\"timeout\""), std::string::npos);  // it did time out
  EXPECT_EQ(old_db().query("select count(*) from fs where h = 'after'"), "20");
  EXPECT_EQ(every_row(*new_cluster_), every_row(old_db()));
  EXPECT_TRUE(mismatch_lines("journal_may_have_applied").empty());
  EXPECT_TRUE(mismatch_lines("journal_refused").empty());
}

TEST_F(JournalReplayTest, TheJournalSurvivesKillMinus9OfCutoverAndIsReplayedAfterRestart) {
  new_cluster_->stop();
  Connection c = connect_proxy();
  c.exec("insert into replayed values (1, 'acknowledged')");
  c.exec("begin");
  c.exec("insert into replayed values (2, 'acknowledged too')");
  c.exec("commit");
  proxy_->signal(SIGKILL);
  ASSERT_EQ(proxy_->wait_exit(5s), 128 + SIGKILL);
  new_cluster_->start();
  start();  // the same journal directory
  EXPECT_EQ(count_in_log("journal_not_replayed"), 1u) << proxy_->log();
  ASSERT_TRUE(wait_for_live()) << proxy_->log();
  EXPECT_EQ(rows(*new_cluster_), "1\tacknowledged\n2\tacknowledged too");
  EXPECT_EQ(rows(*new_cluster_), rows(old_db()));
}

// With cutover stopped, `cutover journal replay` does what the running proxy would; while a
// cutover runs it refuses, since that cutover owns the journal.
TEST_F(JournalReplayTest, JournalReplayCommandReplaysWhileCutoverIsStopped) {
  new_cluster_->stop();
  {
    Connection c = connect_proxy();
    c.exec("insert into replayed values (1, 'offline')");
    c.exec("insert into replayed values (2, 'offline too')");
  }
  const std::vector<std::string> replay = {CUTOVER_BINARY, "journal", "--config",
                                           proxy_->config_path().string(), "replay"};
  const CommandResult refused = run_command(replay);
  EXPECT_EQ(refused.status, 1);
  EXPECT_NE(refused.err.find("in use by another cutover process"), std::string::npos)
      << refused.err;
  proxy_->signal(SIGTERM);
  ASSERT_EQ(proxy_->wait_exit(10s), 0);
  const CommandResult unreachable = run_command(replay);
  EXPECT_EQ(unreachable.status, 1);
  EXPECT_NE(
      unreachable.out.find("replayed=0 already_applied=0 not_needed=0 reported=0 new=unreachable"),
      std::string::npos)
      << unreachable.out << unreachable.err;
  new_cluster_->start();
  const CommandResult done = run_command(replay);
  EXPECT_EQ(done.status, 0) << done.out << done.err;
  EXPECT_NE(done.out.find("replayed=2 already_applied=0 not_needed=0 reported=0 new=reached"),
            std::string::npos)
      << done.out;
  EXPECT_EQ(rows(*new_cluster_), "1\toffline\n2\toffline too");
  const CommandResult again = run_command(replay);  // nothing left: replayed once only
  EXPECT_NE(again.out.find("replayed=0 "), std::string::npos) << again.out;
  EXPECT_EQ(rows(*new_cluster_), "1\toffline\n2\toffline too");
}

TEST_F(JournalReplayTest, ACorruptRecordIsReportedAndNeverReplayed) {
  new_cluster_->stop();
  {
    Connection c = connect_proxy();
    for (int id = 1; id <= 3; ++id) {
      c.exec("insert into replayed values (" + std::to_string(id) + ", 'row " + std::to_string(id) +
             "')");
    }
  }
  proxy_->signal(SIGTERM);
  ASSERT_EQ(proxy_->wait_exit(10s), 0);
  // One byte inside the second record's statement changes: its CRC no longer matches.
  std::filesystem::path segment;
  for (const auto& entry : std::filesystem::directory_iterator(data_ / "journal")) {
    if (entry.path().extension() == ".seg") segment = entry.path();
  }
  std::string bytes = read_file(segment);
  const size_t at = bytes.find("values (2, 'row 2')");
  ASSERT_NE(at, std::string::npos);
  bytes[at + 8] = '7';
  std::ofstream(segment, std::ios::binary | std::ios::trunc) << bytes;
  const CommandResult inspect = run_command(
      {CUTOVER_BINARY, "journal", "--config", proxy_->config_path().string(), "inspect"});
  EXPECT_EQ(inspect.status, 1);
  EXPECT_NE(inspect.out.find("records=2 did_not_apply=2 may_have_applied=0 corrupt=1"),
            std::string::npos)
      << inspect.out;
  new_cluster_->start();
  start();
  ASSERT_TRUE(wait_for_live()) << proxy_->log();
  EXPECT_EQ(rows(*new_cluster_), "1\trow 1\n3\trow 3");  // never the damaged record
  EXPECT_EQ(rows(old_db()), "1\trow 1\n2\trow 2\n3\trow 3");
  const auto corrupt = mismatch_lines("journal_corrupt");
  ASSERT_EQ(corrupt.size(), 1u);
  EXPECT_NE(corrupt[0].find(segment.filename().string()), std::string::npos) << corrupt[0];
}

// 8 clients overwrite 4 rows with their own values while new is stopped and started again: the
// journal keeps the commit order, so after the hand-over both databases hold the same winners.
TEST_F(JournalReplayTest, ConflictingWritesAcrossAnOutageLeaveBothIdentical) {
  old_db().query("insert into replayed select g, 'start' from generate_series(1, 4) g");
  new_cluster_->query("insert into replayed select g, 'start' from generate_series(1, 4) g");
  constexpr int kClients = 8;
  constexpr int kRounds = 60;
  std::atomic<int> done{0};
  Clients clients(kClients, [&](int client) {
    Connection c = connect_proxy();
    for (int round = 0; round < kRounds; ++round) {
      const std::string row = std::to_string(1 + (client + round) % 4);
      const std::string update = "update replayed set v = '" + std::to_string(client) + "/" +
                                 std::to_string(round) + "' where id = " + row;
      if (round % 2 == 0) {
        c.exec(update);
      } else {
        c.exec("begin");
        c.exec(update);
        c.exec("update replayed set v = v || '+' where id = " + row);  // one row: no deadlock
        c.exec("commit");
      }
      ++done;
    }
  });
  const int total = kClients * kRounds;
  EXPECT_TRUE(wait_until([&] { return done.load() >= total / 5; }, 30s));
  new_cluster_->stop();
  EXPECT_TRUE(wait_until([&] { return done.load() >= total / 2; }, 30s));
  new_cluster_->start();
  const std::vector<std::string> failures = clients.join();
  for (int client = 0; client < kClients; ++client) EXPECT_EQ(failures[client], "") << client;
  ASSERT_TRUE(wait_for_live()) << proxy_->log();
  EXPECT_GE(count_in_log("mirror_behind"), 1u);
  EXPECT_EQ(rows(*new_cluster_), rows(old_db()));
}

TEST_F(JournalReplayTest, APromotionWaitsUntilNewHasEveryJournaledWrite) {
  const uint16_t admin_port = free_port();
  std::ofstream(data_ / "token") << kToken << "\n";
  start("admin: { port: " + std::to_string(admin_port) + ", token_file: " +
        (data_ / "token").string() + ", audit_log: " + (data_ / "audit.jsonl").string() +
        " }\ncontrol: { store: \"file:" + (data_ / "state.json").string() +
        "\", switch_timeout_ms: 300 }\n");
  Connection c = connect_proxy();
  new_cluster_->stop();
  c.exec("insert into replayed values (1, 'journaled')");
  const std::string metrics = http(admin_port, "GET", "/metrics").body;
  EXPECT_NE(metrics.find("cutover_journal_records 1\n"), std::string::npos) << metrics;
  EXPECT_EQ(metrics.find("cutover_mirror_lag_seconds 0\n"), std::string::npos) << metrics;
  // Forced past the gates: still, new does not serve before it has the journaled write.
  HttpReply promoted =
      http(admin_port, "POST", "/phase", "{\"action\": \"promote\", \"force\": true}");
  EXPECT_EQ(promoted.status, 200);
  EXPECT_NE(promoted.body.find("\"phase\":\"promoted\",\"read_ramp_percent\":100,\"version\":1,"
                               "\"source_of_truth\":\"old\""),
            std::string::npos)
      << promoted.body;
  EXPECT_EQ(count_in_log("role_switch_waiting"), 1u) << proxy_->log();
  EXPECT_EQ(count_in_log("role_switched"), 0u);
  new_cluster_->start();
  ASSERT_TRUE(wait_until(
      [&] {
        return http(admin_port, "GET", "/status").body.find("\"source_of_truth\":\"new\"") !=
               std::string::npos;
      },
      30s))
      << proxy_->log();
  c.exec("begin");
  c.exec("insert into replayed values (2, 'on new first')");
  EXPECT_EQ(which_server(c), std::to_string(new_cluster_->port()));
  c.exec("commit");
  EXPECT_EQ(rows(*new_cluster_), "1\tjournaled\n2\ton new first");
  EXPECT_EQ(rows(old_db()), rows(*new_cluster_));
}

}  // namespace
}  // namespace cutover::testing

namespace cutover::testing {
namespace {

// A SET between the statements of a journaled transaction is replayed in its place: each
// statement runs under the search_path it ran with on old (the same table name, two schemas).
TEST_F(JournalReplayTest, ASettingChangedInsideAJournaledTransactionIsReplayedInItsPlace) {
  for (PgCluster* db : {&old_db(), new_cluster_.get()}) {
    db->query(
        "drop schema if exists s1, s2 cascade; create schema s1; create schema s2; create table "
        "s1.t(id int primary key, v text); create table s2.t(id int primary key, v text)");
  }
  Connection c = connect_proxy();
  c.exec("set search_path = s1");
  new_cluster_->stop();
  c.exec("begin");
  c.exec("insert into t values (1, 'before the set')");
  c.exec("set search_path = s2");
  c.exec("insert into t values (2, 'after the set')");
  c.exec("commit");
  c.exec("insert into t values (3, 'after the transaction')");
  new_cluster_->start();
  ASSERT_TRUE(wait_for_live()) << proxy_->log();
  EXPECT_EQ(old_db().query("select id from s1.t"), "1");
  EXPECT_EQ(old_db().query("select id from s2.t order by id"), "2\n3");
  EXPECT_EQ(every_row(*new_cluster_), every_row(old_db()));
  EXPECT_TRUE(mismatch_lines("journal_refused").empty());
}

}  // namespace
}  // namespace cutover::testing
