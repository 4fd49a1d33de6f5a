// The journal's way back: while new is down every acknowledged write is journaled and reads stay
// on old; once new is back cutover replays the journal in order and hands over to live
// mirroring, so both databases end identical. Also: the journal survives kill -9 of cutover, a
// corrupt record is reported and never replayed, and a commit new may or may not have applied is
// reported for repair; a promotion waits until new has every journaled write. new is a cluster
// of this suite's own, which the tests stop and start.
#include <libpq-fe.h>
#include <signal.h>

#include <atomic>
#include <fstream>
#include <memory>
#include <thread>
#include <vector>

#include "protocol/frontend.h"
#include "tests/proxy/admin_fixture.h"

namespace cutover::testing {
namespace {

using namespace std::chrono_literals;
using ResultPtr = std::unique_ptr<PGresult, decltype(&PQclear)>;

class JournalReplayTest : public ProxyTest {
 protected:
  static void SetUpTestSuite() {
    new_cluster_ = std::make_unique<PgCluster>(PgCluster::Options{.name = "replay-new"});
  }
  static void TearDownTestSuite() { new_cluster_.reset(); }

  void SetUp() override {
    ASSERT_NE(new_cluster_, nullptr) << "the suite's cluster did not start";
    new_cluster_->start();  // a test that failed half way may have left it stopped
    new_cluster_->query("drop event trigger if exists slow_ddl");
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
  // Waits until the mirror's latest mode change in the log is the one back to live.
  bool wait_for_live() const {
    return wait_until(
        [&] {
          const std::string log = proxy_->log();
          const size_t live = log.rfind("\"event\":\"mirror_live\"");
          if (live == std::string::npos) return false;
          for (const char* behind :
               {"mirror_behind", "mirror_handover_postponed", "journal_not_replayed"}) {
            const size_t at = log.rfind("\"event\":\"" + std::string(behind) + "\"");
            if (at != std::string::npos && at > live) return false;
          }
          return true;
        },
        30s);
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
  // Everything replayed: the journal holds no record any more.
  const CommandResult inspect = run_command(
      {CUTOVER_BINARY, "journal", "--config", proxy_->config_path().string(), "inspect"});
  EXPECT_NE(inspect.out.find(" records=0 "), std::string::npos) << inspect.out;
}

// A commit new missed that cannot be journaled must not be acknowledged: the client learns
// that its transaction's fate is unknown (FATAL 08007, with why), not that a database went
// away. Read off the wire: libpq reports a FATAL that follows a CommandComplete only as the
// connection's loss.
TEST_F(JournalReplayTest, ACommitThatCannotBeJournaledEndsTheSessionWith08007) {
  RawClient client(proxy_->port());
  raw_login(client);
  // Sends one Query and returns the types of the messages answering it, up to ReadyForQuery or
  // the end of the connection, and the last ErrorResponse's body.
  std::string error;
  auto run = [&](const std::string& sql) {
    std::string query;
    protocol::encode(protocol::Query{.sql = sql}, query);
    client.send(query);
    std::string types;
    while (auto message = read_message(client, 30s)) {
      types += message->type;
      if (message->type == 'E') error = message->body;
      if (message->type == 'Z') break;
    }
    return types;
  };
  new_cluster_->stop();
  EXPECT_EQ(run("begin"), "CZ");
  const std::string megabyte(size_t{1} << 20, 'x');
  for (int i = 0; i < 65; ++i) {  // a journal record holds at most 64 MB
    ASSERT_EQ(run("insert into replayed values (" + std::to_string(i) + ", '" + megabyte + "')"),
              "CZ");
  }
  EXPECT_EQ(run("commit"), "CE");  // old's tag, then cutover's FATAL; never a ReadyForQuery
  EXPECT_TRUE(client.read_until_closed().empty());
  // ErrorResponse fields: a type byte, then the value up to its NUL.
  EXPECT_NE(error.find(std::string("C08007") + '\0'), std::string::npos) << error;
  EXPECT_NE(error.find(std::string("SFATAL") + '\0'), std::string::npos) << error;
  EXPECT_NE(error.find("too large for cutover to record"), std::string::npos) << error;
  EXPECT_EQ(count_in_log("session_failed"), 1u) << proxy_->log();
  EXPECT_EQ(old_db().query("select count(*) from replayed"), "65");  // old committed it
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
  EXPECT_NE(unreachable.out.find("replayed=0 already_applied=0 reported=0 new=unreachable"),
            std::string::npos)
      << unreachable.out << unreachable.err;
  new_cluster_->start();
  const CommandResult done = run_command(replay);
  EXPECT_EQ(done.status, 0) << done.out << done.err;
  EXPECT_NE(done.out.find("replayed=2 already_applied=0 reported=0 new=reached"), std::string::npos)
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

// new answers the write but not its COMMIT within mirror.timeout_ms (a deferred trigger sleeps
// at commit): the commit may or may not have applied there. cutover had asked new for the
// transaction's id, so replay asks new what became of it (committed, once the sleep ends) and
// neither runs it again nor reports it. The table has no key: a second run would show.
TEST_F(JournalReplayTest, ACommitWhoseAnswerWasLostIsSettledByAskingNewNotRunTwice) {
  for (PgCluster* db : {&old_db(), new_cluster_.get()}) {
    db->query("drop table if exists slow_commit; create table slow_commit(id int)");
  }
  new_cluster_->query(
      "create or replace function sleep_at_commit() returns trigger language plpgsql as "
      "$$ begin perform pg_sleep(1); return null; end $$;"
      "create constraint trigger slow after insert on slow_commit deferrable initially deferred "
      "for each row execute function sleep_at_commit()");
  start("  mirror: { timeout_ms: 300 }\n");
  Connection c = connect_proxy();
  c.exec("insert into slow_commit values (1)");  // the client sees old's success
  EXPECT_NE(proxy_->log().find("\"outcome\":\"may_have_applied\""), std::string::npos);
  ASSERT_TRUE(wait_for_live()) << proxy_->log();
  EXPECT_EQ(new_cluster_->query("select count(*) from slow_commit"), "1");
  EXPECT_TRUE(mismatch_lines("journal_may_have_applied").empty());
  EXPECT_TRUE(mismatch_lines("journal_refused").empty());
}

// A DDL statement commits by itself; new's event trigger makes it outlast mirror.timeout_ms,
// before cutover could learn a transaction id: it is reported for repair with its table.
TEST_F(JournalReplayTest, AnUncertainStatementWithoutATransactionIdIsReportedWithItsTable) {
  new_cluster_->query(
      "create or replace function sleep_after_ddl() returns event_trigger language plpgsql as "
      "$$ begin perform pg_sleep(1); end $$;"
      "create event trigger slow_ddl on ddl_command_end execute function sleep_after_ddl()");
  old_db().query("drop table if exists made_slowly");
  new_cluster_->query("drop table if exists made_slowly");
  start("  mirror: { timeout_ms: 300 }\n");
  Connection c = connect_proxy();
  c.exec("create table made_slowly(id int)");
  ASSERT_TRUE(wait_until([&] { return !mismatch_lines("journal_may_have_applied").empty(); }, 10s))
      << proxy_->log();
  new_cluster_->query("drop event trigger slow_ddl");
  const auto reported = mismatch_lines("journal_may_have_applied");
  ASSERT_EQ(reported.size(), 1u);
  EXPECT_NE(reported[0].find("\"tables\":[\"made_slowly\"]"), std::string::npos) << reported[0];
  EXPECT_NE(reported[0].find("txid_status: unknown"), std::string::npos) << reported[0];
  ASSERT_TRUE(wait_for_live()) << proxy_->log();
}

// A write that ends its transaction and whose answer new does not give within
// mirror.timeout_ms, before cutover could learn the transaction's id (a batch sent in pieces, as
// asyncpg sends one, is not wrapped): reported for repair with the key of the row it names, read
// from the record's Parse and Bind and new's catalog.
TEST_F(JournalReplayTest, AnUncertainWriteIsReportedWithTheKeysOfItsRows) {
  for (PgCluster* db : {&old_db(), new_cluster_.get()}) {
    db->query(
        "drop table if exists keyed; create table keyed(id int, region text, v text, "
        "primary key (region, id)); insert into keyed values (7, 'eu', 'a')");
  }
  new_cluster_->query(
      "create or replace function sleep_before_update() returns trigger language plpgsql as "
      "$$ begin perform pg_sleep(1); return new; end $$;"
      "create trigger slow before update on keyed for each row "
      "execute function sleep_before_update()");
  start("  mirror: { timeout_ms: 300 }\n");
  Connection c = connect_proxy();
  PGconn* conn = c.get();
  ASSERT_EQ(PQenterPipelineMode(conn), 1);
  ASSERT_EQ(PQsendPrepare(conn, "touch", "update keyed set v = $1 where id = $2 and region = $3", 3,
                          nullptr),
            1);
  ASSERT_EQ(PQsendFlushRequest(conn), 1);
  ASSERT_EQ(PQflush(conn), 0);
  ResultPtr prepared(PQgetResult(conn), &PQclear);
  ASSERT_EQ(PQresultStatus(prepared.get()), PGRES_COMMAND_OK) << PQerrorMessage(conn);
  EXPECT_EQ(PQgetResult(conn), nullptr);
  const char* values[] = {"b", "7", "eu"};
  ASSERT_EQ(PQsendQueryPrepared(conn, "touch", 3, values, nullptr, nullptr, 0), 1);
  ASSERT_EQ(PQpipelineSync(conn), 1);
  ResultPtr updated(PQgetResult(conn), &PQclear);
  EXPECT_EQ(PQresultStatus(updated.get()), PGRES_COMMAND_OK) << PQerrorMessage(conn);
  EXPECT_EQ(PQgetResult(conn), nullptr);
  ResultPtr synced(PQgetResult(conn), &PQclear);
  EXPECT_EQ(PQresultStatus(synced.get()), PGRES_PIPELINE_SYNC);
  ASSERT_EQ(PQexitPipelineMode(conn), 1);
  ASSERT_TRUE(wait_until([&] { return !mismatch_lines("journal_may_have_applied").empty(); }, 10s))
      << proxy_->log();
  const auto reported = mismatch_lines("journal_may_have_applied");
  ASSERT_EQ(reported.size(), 1u);
  EXPECT_NE(reported[0].find("\"tables\":[\"keyed\"],\"keys\":[\"keyed(region, id)=('eu', '7')\"]"),
            std::string::npos)
      << reported[0];
  new_cluster_->query("drop trigger slow on keyed");
  ASSERT_TRUE(wait_for_live()) << proxy_->log();
}

// 8 clients overwrite 4 rows with their own values while new is stopped and started again: the
// journal keeps the commit order, so after the hand-over both databases hold the same winners.
TEST_F(JournalReplayTest, ConflictingWritesAcrossAnOutageLeaveBothIdentical) {
  old_db().query("insert into replayed select g, 'start' from generate_series(1, 4) g");
  new_cluster_->query("insert into replayed select g, 'start' from generate_series(1, 4) g");
  constexpr int kClients = 8;
  constexpr int kRounds = 60;
  std::atomic<int> done{0};
  std::vector<std::string> failures(kClients);
  std::vector<std::thread> clients;
  for (int client = 0; client < kClients; ++client) {
    clients.emplace_back([&, client] {
      try {
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
      } catch (const std::exception& e) {
        failures[client] = e.what();
      }
    });
  }
  const int total = kClients * kRounds;
  EXPECT_TRUE(wait_until([&] { return done.load() >= total / 5; }, 30s));
  new_cluster_->stop();
  EXPECT_TRUE(wait_until([&] { return done.load() >= total / 2; }, 30s));
  new_cluster_->start();
  for (auto& t : clients) t.join();
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
