// Role switches in a running cutover, against the real old and new clusters: promote makes new
// the source of truth for sessions already connected (their settings, prepared statements and
// sequences carry over) and for new ones, rollback after it makes old the source of truth
// again, decommission stops the mirror; a switch waits for open transactions, ends those that
// outlast control.switch_timeout_ms, and pgbench running through a promotion sees no error.
#include <cstdlib>
#include <future>
#include <thread>

#include "tests/proxy/admin_fixture.h"

namespace cutover::testing {
namespace {

// Inserts a row and says which server the transaction ran on: a read inside a transaction that
// wrote is answered by the source of truth. (Not RETURNING the port: the two servers' answers
// to a mirrored write must be the same, or the comparator reports a mismatch.)
std::string insert_returning_port(Connection& c, const std::string& table, const std::string& v) {
  const bool own_transaction = PQtransactionStatus(c.get()) == PQTRANS_IDLE;
  if (own_transaction) c.exec("begin");
  c.exec("insert into " + table + "(v) values ('" + v + "')");
  std::string port = c.query_value(kWhichServer);
  if (own_transaction) c.exec("commit");
  return port;
}

std::string pg_binary(const std::string& name) {
  const char* dir = std::getenv("PGCLUSTER_BINDIR");
  return std::string(dir != nullptr ? dir : "/usr/lib/postgresql/15/bin") + "/" + name;
}

class PromotionTest : public AdminFixture {
 protected:
  void start(const std::string& control = "") {
    start_admin(100, "  mirror: { sequence_margin: 1000, sequence_sync_ms: 100 }\n", control);
  }
  // The table's rows on one cluster, ordered, every column.
  static std::string rows(PgCluster& db, const std::string& table) {
    return db.query("select * from " + table + " order by id");
  }
  static std::string on_new(const std::string& sql) { return TwoClusters::new_db().query(sql); }
  std::string on_old(const std::string& sql) const { return old_db().query(sql); }
  HttpReply act(const std::string& action) {
    return post("/phase", "{\"action\": \"" + action + "\"}");
  }
  // Once every gate passes (the sequence keeper's first pass must have completed).
  HttpReply promote() {
    EXPECT_TRUE(wait_until(
        [&] { return get("/readiness").body.find("\"ready\":true") != std::string::npos; },
        std::chrono::seconds(5)))
        << get("/readiness").body;
    return act("promote");
  }
};

TEST_F(PromotionTest, PromoteMovesRunningSessionsToNewAndRollbackBringsThemBack) {
  start();
  Connection c = connect_proxy();
  c.exec("drop table if exists promo; create table promo(id serial primary key, v text)");
  EXPECT_EQ(insert_returning_port(c, "promo", "before"), old_port());
  c.exec("set application_name = 'promo-session'");
  // A write prepared through the protocol before promotion: its Parse went to old only.
  PGresult* prepared =
      PQprepare(c.get(), "add", "insert into promo(v) values ($1) returning id", 1, nullptr);
  ASSERT_EQ(PQresultStatus(prepared), PGRES_COMMAND_OK) << PQerrorMessage(c.get());
  PQclear(prepared);
  // The keeper put new's sequence at least half the margin ahead of old's.
  ASSERT_TRUE(
      wait_until([&] { return std::stoi(on_new("select last_value from promo_id_seq")) >= 501; },
                 std::chrono::seconds(5)));

  HttpReply promoted = promote();
  EXPECT_EQ(promoted.status, 200);
  EXPECT_NE(promoted.body.find("\"phase\":\"promoted\""), std::string::npos) << promoted.body;
  EXPECT_NE(promoted.body.find("\"source_of_truth\":\"new\""), std::string::npos) << promoted.body;
  const std::string metrics = get("/metrics").body;
  EXPECT_NE(metrics.find("cutover_serving{database=\"new\"} 1\n"), std::string::npos) << metrics;
  EXPECT_NE(metrics.find("cutover_phase{phase=\"promoted\"} 1\n"), std::string::npos);

  // The same connection now writes on new first, with new's keys, and keeps its state.
  EXPECT_EQ(insert_returning_port(c, "promo", "after"), new_port());
  EXPECT_EQ(c.query_value("show application_name"), "promo-session");
  const char* value = "prepared";
  PGresult* added = PQexecPrepared(c.get(), "add", 1, &value, nullptr, nullptr, 0);
  ASSERT_EQ(PQresultStatus(added), PGRES_TUPLES_OK) << PQerrorMessage(c.get());
  const int prepared_id = std::stoi(PQgetvalue(added, 0, 0));
  PQclear(added);
  EXPECT_GT(prepared_id, 500);  // from new's sequence, which old's never reached
  EXPECT_EQ(c.query_value(kWhichServer), new_port());
  Connection fresh = connect_proxy();  // logs in to new first
  EXPECT_EQ(insert_returning_port(fresh, "promo", "fresh"), new_port());
  EXPECT_EQ(rows(old_db(), "promo"), rows(TwoClusters::new_db(), "promo"));
  EXPECT_EQ(on_old("select count(*) from promo"), "4");

  // Rollback: old is the source of truth again, and its sequence is now the one ahead.
  HttpReply rolled_back = act("rollback");
  EXPECT_EQ(rolled_back.status, 200);
  EXPECT_NE(rolled_back.body.find("\"source_of_truth\":\"old\""), std::string::npos)
      << rolled_back.body;
  EXPECT_EQ(insert_returning_port(c, "promo", "rolled back"), old_port());
  EXPECT_EQ(insert_returning_port(fresh, "promo", "rolled back too"), old_port());
  EXPECT_EQ(on_old("select count(distinct id) from promo"), "6");
  EXPECT_EQ(rows(old_db(), "promo"), rows(TwoClusters::new_db(), "promo"));
  EXPECT_GT(std::stoi(on_old("select max(id) from promo where v like 'rolled back%'")),
            prepared_id);
  const std::string log = proxy_->log();
  EXPECT_NE(log.find("\"event\":\"role_switched\",\"serving\":\"new\""), std::string::npos);
  EXPECT_NE(log.find("\"event\":\"role_switched\",\"serving\":\"old\""), std::string::npos);
}

TEST_F(PromotionTest, ARestartedInstanceComesBackServingFromNew) {
  start();
  ASSERT_EQ(promote().status, 200);
  proxy_->signal(SIGKILL);
  start();
  Connection c = connect_proxy();
  c.exec(
      "drop table if exists promo_restart; create table promo_restart(id serial primary key, v "
      "text)");
  EXPECT_EQ(insert_returning_port(c, "promo_restart", "x"), new_port());
  EXPECT_EQ(on_old("select v from promo_restart"), "x");  // still mirrored to old
  EXPECT_NE(get("/status").body.find("\"source_of_truth\":\"new\""), std::string::npos);
}

TEST_F(PromotionTest, ASwitchWaitsForAnOpenTransactionToEnd) {
  start(", switch_timeout_ms: 30000");
  Connection c = connect_proxy();
  c.exec("drop table if exists promo_wait; create table promo_wait(id serial primary key, v text)");
  c.exec("begin");
  EXPECT_EQ(insert_returning_port(c, "promo_wait", "first"), old_port());
  auto promoted = std::async(std::launch::async, [&] { return promote(); });
  ASSERT_TRUE(wait_until(
      [&] { return proxy_->log().find("\"event\":\"role_switch_started\"") != std::string::npos; },
      std::chrono::seconds(5)));
  // The transaction goes on where it began, and ends whole.
  EXPECT_EQ(insert_returning_port(c, "promo_wait", "second"), old_port());
  c.exec("commit");
  HttpReply reply = promoted.get();
  EXPECT_EQ(reply.status, 200);
  EXPECT_NE(reply.body.find("\"source_of_truth\":\"new\""), std::string::npos) << reply.body;
  EXPECT_EQ(insert_returning_port(c, "promo_wait", "third"), new_port());
  EXPECT_EQ(rows(old_db(), "promo_wait"), rows(TwoClusters::new_db(), "promo_wait"));
  EXPECT_EQ(on_new("select string_agg(v, ',' order by id) from promo_wait"), "first,second,third");
}

TEST_F(PromotionTest, ASessionStillInATransactionAfterTheSwitchTimeoutIsEnded) {
  start(", switch_timeout_ms: 300");
  Connection c = connect_proxy();
  c.exec("drop table if exists promo_late; create table promo_late(id serial primary key, v text)");
  c.exec("begin");
  insert_returning_port(c, "promo_late", "never committed");
  // The FATAL arrives while libpq is idle: parsing it (PQisBusy) hands it to the notice
  // processor. Read before the next query: once that is sent, the closed socket's reset can
  // discard it.
  std::string notices;
  PQsetNoticeProcessor(
      c.get(), [](void* out, const char* text) { *static_cast<std::string*>(out) += text; },
      &notices);
  HttpReply reply = promote();
  EXPECT_EQ(reply.status, 200);
  EXPECT_NE(reply.body.find("\"source_of_truth\":\"new\""), std::string::npos) << reply.body;
  EXPECT_TRUE(wait_until(
      [&] {
        const bool open = PQconsumeInput(c.get()) == 1;
        PQisBusy(c.get());
        return !open || !notices.empty();
      },
      std::chrono::seconds(5)));
  EXPECT_NE(notices.find("FATAL:  terminating connection: the source of truth is changing and "
                         "this session stayed inside a transaction longer than "
                         "control.switch_timeout_ms"),
            std::string::npos)
      << notices;
  EXPECT_THROW(c.exec("commit"), QueryError);
  EXPECT_EQ(on_old("select count(*) from promo_late"), "0");
  EXPECT_EQ(on_new("select count(*) from promo_late"), "0");
  EXPECT_NE(proxy_->log().find("\"event\":\"session_ended_for_switch\""), std::string::npos);
}

TEST_F(PromotionTest, DecommissionStopsWritingToOld) {
  start();
  Connection c = connect_proxy();
  c.exec(
      "drop table if exists promo_decom; create table promo_decom(id serial primary key, v text)");
  c.exec("set application_name = 'decom-session'");
  ASSERT_EQ(promote().status, 200);
  EXPECT_EQ(insert_returning_port(c, "promo_decom", "mirrored"), new_port());
  HttpReply reply = act("decommission");
  EXPECT_EQ(reply.status, 200);
  EXPECT_NE(reply.body.find("\"phase\":\"decommissioned\""), std::string::npos) << reply.body;
  EXPECT_EQ(insert_returning_port(c, "promo_decom", "new only"), new_port());
  EXPECT_EQ(on_new("select string_agg(v, ',' order by id) from promo_decom"), "mirrored,new only");
  EXPECT_EQ(on_old("select string_agg(v, ',' order by id) from promo_decom"), "mirrored");
  // The session's connection to old is closed.
  EXPECT_TRUE(wait_until(
      [&] {
        return on_old(
                   "select count(*) from pg_stat_activity where application_name = "
                   "'decom-session'") == "0";
      },
      std::chrono::seconds(5)));
  EXPECT_EQ(act("rollback").status, 409);
}

TEST_F(PromotionTest, PgbenchRunningThroughAPromotionSeesNoError) {
  start();
  for (PgCluster* db : {&old_db(), &TwoClusters::new_db()}) {
    CommandResult init = run_command({pg_binary("pgbench"), "-i", "-s", "1", "-q", db->conninfo()});
    ASSERT_EQ(init.status, 0) << init.err;
  }
  auto bench = std::async(std::launch::async, [&] {
    return run_command({pg_binary("pgbench"), "-c", "4", "-j", "2", "-T", "6", "-M", "prepared",
                        "-n", conninfo()});
  });
  ASSERT_TRUE(
      wait_until([&] { return std::stoi(on_old("select count(*) from pgbench_history")) >= 100; },
                 std::chrono::seconds(10)));
  HttpReply reply = promote();
  EXPECT_EQ(reply.status, 200);
  EXPECT_NE(reply.body.find("\"source_of_truth\":\"new\""), std::string::npos) << reply.body;
  CommandResult result = bench.get();
  EXPECT_EQ(result.status, 0) << result.out << result.err;
  EXPECT_EQ(result.err.find("error"), std::string::npos) << result.err;
  EXPECT_NE(result.out.find("number of failed transactions: 0"), std::string::npos) << result.out;
  const std::string sums = "select count(*), sum(delta) from pgbench_history";
  EXPECT_EQ(on_old(sums), on_new(sums));
  const std::string balances = "select sum(abalance), sum(abalance * aid) from pgbench_accounts";
  EXPECT_EQ(on_old(balances), on_new(balances));
  EXPECT_NE(on_new("select count(*) from pgbench_history"), "0");
}

}  // namespace
}  // namespace cutover::testing
