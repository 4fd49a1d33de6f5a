// Fail closed: a write new needs from the journal is refused before old commits it when the
// journal cannot take it (a full disk: 53100; too large: 54000), and writing resumes by itself
// when space returns. A transaction journaled before old was asked to commit it (an intent)
// and left without an answer by a crash is settled at restart by asking old what became of it.
#include <atomic>
#include <csignal>
#include <string>
#include <thread>
#include <vector>

#include "protocol/frontend.h"
#include "tests/harness/small_disk.h"
#include "tests/proxy/journal_fixture.h"
#include "tests/proxy/routing_fixture.h"
#include "verify/journal.h"
#include "verify/journal_writer.h"

namespace cutover::testing {
namespace {

using namespace std::chrono_literals;

std::string sqlstate_of_error(const std::string& error) { return error.substr(0, 5); }

TEST_F(JournalReplayTest, AFullJournalDiskRefusesWritesBeforeOldAndTheyResumeWhenSpaceReturns) {
  SmallDisk disk;
  if (!disk.mounted()) GTEST_SKIP() << "mounting a tmpfs needs root";
  start("", disk / "journal");
  new_cluster_->stop();
  Connection c = connect_proxy();
  c.exec("insert into replayed values (1, 'journaled')");  // new is behind from here on
  c.exec("begin");
  // 100 kB of text: more than the journal's last page has room for.
  c.exec("insert into replayed values (2, '" + std::string(100'000, 't') + "')");
  ASSERT_GT(disk.fill(), 0u);
  // Its record cannot be written before old's commit: old rolls it back instead.
  const std::string commit = error_of(c, "commit");
  EXPECT_EQ(sqlstate_of_error(commit), "53100") << commit;
  EXPECT_NE(commit.find("the mirror journal at " + (disk / "journal").string()), std::string::npos)
      << commit;
  EXPECT_EQ(c.query_value("select 'idle again'"), "idle again");
  // A write new would need from the journal is refused before old runs it.
  const std::string insert = error_of(c, "insert into replayed values (3, 'refused')");
  EXPECT_EQ(sqlstate_of_error(insert), "53100") << insert;
  EXPECT_EQ(old_db().query("select id from replayed order by id"), "1");
  EXPECT_EQ(count_in_log("unit_refused"), 2u) << proxy_->log();
  disk.free();
  // Refused until a probe of the disk (at most once a second) finds space again.
  EXPECT_TRUE(wait_until(
      [&] { return error_of(c, "insert into replayed values (4, 'resumed')") == "no error"; }, 10s))
      << proxy_->log();
  new_cluster_->start();
  ASSERT_TRUE(wait_for_live()) << proxy_->log();
  EXPECT_EQ(old_db().query("select id from replayed order by id"), "1\n4");
  EXPECT_EQ(every_row(*new_cluster_), every_row(old_db()));
}

// The record of a transaction new missed is written before old commits it; one too large for
// the journal (64 MB) is not committed at all: the client's COMMIT fails as if the server had
// refused it, and the session goes on.
TEST_F(JournalReplayTest, ATransactionTooLargeToJournalIsRefusedAtItsCommitNotCommitted) {
  new_cluster_->stop();
  Connection c = connect_proxy();
  c.exec("begin");
  const std::string megabyte(size_t{1} << 20, 'x');
  for (int i = 0; i < 65; ++i) {
    c.exec("insert into replayed values (" + std::to_string(i) + ", '" + megabyte + "')");
  }
  const std::string commit = error_of(c, "commit");
  EXPECT_EQ(sqlstate_of_error(commit), "54000") << commit;
  EXPECT_NE(commit.find("too large for the mirror journal"), std::string::npos) << commit;
  EXPECT_EQ(old_db().query("select count(*) from replayed"), "0");
  c.exec("insert into replayed values (100, 'small')");
  new_cluster_->start();
  ASSERT_TRUE(wait_for_live()) << proxy_->log();
  EXPECT_EQ(rows(*new_cluster_), "100\tsmall");
  EXPECT_EQ(every_row(*new_cluster_), every_row(old_db()));
}

// What a cutover killed between journaling a transaction and old's answer to its COMMIT leaves:
// intents without a marker. At restart replay asks old about each: the one old committed is
// replayed, the one old rolled back is not, and one whose id old never gave is reported with
// its key, an open divergence, never guessed.
TEST_F(JournalReplayTest, IntentsLeftByACrashAreSettledByAskingOld) {
  proxy_->signal(SIGTERM);
  ASSERT_EQ(proxy_->wait_exit(10s), 0);
  Connection direct = connect(old_db().conninfo());
  direct.exec("begin");
  direct.exec("insert into replayed values (10, 'old committed')");
  const std::string committed = direct.query_value("select txid_current()");
  direct.exec("commit");
  direct.exec("begin");
  direct.exec("insert into replayed values (11, 'old rolled back')");
  const std::string rolled_back = direct.query_value("select txid_current()");
  direct.exec("rollback");
  direct.exec("insert into replayed values (12, 'old id unknown')");
  {
    verify::JournalWriter writer(data_ / "journal", {});
    auto intent = [&](const std::string& sql, const std::string& source_id) {
      verify::JournalRecord record{.database = "postgres", .user = "postgres"};
      for (const std::string& statement : {std::string("BEGIN"), sql, std::string("COMMIT")}) {
        protocol::encode(protocol::Query{.sql = statement}, record.unit);
      }
      record.intent = true;
      record.source_transaction_id = source_id.empty() ? 0 : std::stoull(source_id);
      writer.commit(writer.append(std::move(record)));
    };
    intent("insert into replayed (id, v) values (10, 'old committed')", committed);
    intent("insert into replayed (id, v) values (11, 'old rolled back')", rolled_back);
    intent("insert into replayed (id, v) values (12, 'old id unknown')", "");
  }
  start();
  ASSERT_TRUE(wait_for_live()) << proxy_->log();
  EXPECT_EQ(rows(*new_cluster_), "10\told committed");
  const auto unknown = mismatch_lines("journal_commit_unknown");
  ASSERT_EQ(unknown.size(), 1u);
  EXPECT_NE(unknown[0].find("\"keys\":[\"replayed(id)=(12)\"]"), std::string::npos) << unknown[0];
  std::ifstream ledger(data_ / "divergences.jsonl");
  const std::string divergences((std::istreambuf_iterator<char>(ledger)),
                                std::istreambuf_iterator<char>());
  EXPECT_NE(divergences.find("journal_commit_unknown"), std::string::npos) << divergences;
}

// Killed under load, cutover leaves transactions old committed and new had not yet: their
// intents, written before old's COMMIT. After a restart replay asks old and new about each,
// replays what new lacks, and both databases end identical, nothing reported. Three kills:
// with eight writers, one is almost always between the two commits at some kill.
TEST_F(JournalReplayTest, KilledBetweenTheTwoCommitsUnderLoadNothingIsLostOrLeftInDoubt) {
  for (PgCluster* db : {&old_db(), new_cluster_.get()}) {
    db->query("drop table if exists ledger; create table ledger(id int primary key, n int)");
  }
  constexpr int kWriters = 8;
  std::atomic<int> next_id{0};
  for (int kill = 0; kill < 3; ++kill) {
    std::atomic<int> committed{0};
    std::vector<std::thread> writers;
    for (int w = 0; w < kWriters; ++w) {
      writers.emplace_back([&, w] {
        try {
          Connection c = connect_proxy();
          for (;;) {  // until cutover is killed under it
            const std::string id = std::to_string(next_id++);
            if (w % 2 == 0) {
              c.exec("insert into ledger values (" + id + ", " + std::to_string(w) + ")");
            } else {  // as drivers send a transaction: one statement at a time
              c.exec("begin");
              c.exec("insert into ledger values (" + id + ", 0)");
              c.exec("update ledger set n = n + 1 where id = " + id);
              c.exec("commit");
            }
            ++committed;
          }
        } catch (const std::exception&) {
        }
      });
    }
    ASSERT_TRUE(wait_until([&] { return committed.load() >= 300; }, 30s)) << proxy_->log();
    proxy_->signal(SIGKILL);
    ASSERT_EQ(proxy_->wait_exit(5s), 128 + SIGKILL);
    for (auto& writer : writers) writer.join();
    start();  // the same journal directory
    ASSERT_TRUE(wait_for_live()) << proxy_->log();
    EXPECT_EQ(every_row(*new_cluster_), every_row(old_db())) << "after kill " << kill;
  }
  EXPECT_TRUE(mismatch_lines("journal_commit_unknown").empty());
  EXPECT_TRUE(mismatch_lines("journal_may_have_applied").empty());
  EXPECT_TRUE(mismatch_lines("journal_refused").empty());
}

// Intents of transactions new has are passed over when cutover stops cleanly: the next start
// finds nothing to ask old and new about, and new is live from the start.
TEST_F(JournalReplayTest, ACleanStopLeavesNoIntentForTheNextStart) {
  {
    Connection c = connect_proxy();
    c.exec("insert into replayed values (1, 'live')");
    c.exec("begin; update replayed set v = 'still live' where id = 1; commit");
  }
  proxy_->signal(SIGTERM);
  ASSERT_EQ(proxy_->wait_exit(10s), 0);
  const CommandResult inspect = run_command(
      {CUTOVER_BINARY, "journal", "--config", proxy_->config_path().string(), "inspect"});
  EXPECT_NE(inspect.out.find(" waiting=0\n"), std::string::npos) << inspect.out;
  start();
  Connection c = connect_proxy();
  EXPECT_EQ(which_server(c), std::to_string(new_cluster_->port()));
  EXPECT_EQ(count_in_log("journal_not_replayed"), 0u) << proxy_->log();
  EXPECT_EQ(rows(*new_cluster_), "1\tstill live");
}

}  // namespace
}  // namespace cutover::testing
