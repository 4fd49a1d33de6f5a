// SIGTERM: stop accepting, let open transactions finish up to the deadline, then exit; a
// second signal exits at once. Checked on the real process and on the database's data.
#include <libpq-fe.h>

#include <csignal>
#include <memory>

#include "tests/proxy/proxy_fixture.h"

namespace cutover::testing {
namespace {

using namespace std::chrono_literals;
using ResultPtr = std::unique_ptr<PGresult, decltype(&PQclear)>;

bool accepts_connections(const std::string& conninfo) {
  PGconn* c = PQconnectdb((conninfo + " connect_timeout=2").c_str());
  bool ok = PQstatus(c) == CONNECTION_OK;
  PQfinish(c);
  return ok;
}

class ShutdownTest : public ProxyTest {
 protected:
  void SetUp() override {
    old_db().query("drop table if exists shutdown_ledger; create table shutdown_ledger (n int)");
  }
};

TEST_F(ShutdownTest, SigtermLetsOpenTransactionsCommitThenExits) {
  start_proxy("timeouts: { shutdown_ms: 20000 }\n");
  Connection in_transaction = connect_proxy();
  Connection idle = connect_proxy();
  in_transaction.exec("begin; insert into shutdown_ledger values (1)");
  proxy_->signal(SIGTERM);
  ASSERT_TRUE(wait_until([&] { return !accepts_connections(conninfo()); }, 5s));
  // The idle client is let go at once (its backend session ends); the open transaction still
  // runs to its end.
  std::string idle_alive =
      "select count(*) from pg_stat_activity where pid = " + std::to_string(idle.backend_pid());
  EXPECT_TRUE(wait_until([&] { return old_db().query(idle_alive) == "0"; }, 5s));
  EXPECT_THROW(idle.exec("select 1"), QueryError);
  in_transaction.exec("insert into shutdown_ledger values (2)");
  in_transaction.exec("commit");
  EXPECT_EQ(proxy_->wait_exit(5s), std::optional<int>(0));
  EXPECT_EQ(old_db().query("select string_agg(n::text, ',' order by n) from shutdown_ledger"),
            "1,2");
  EXPECT_NE(proxy_->log().find("shutdown_drained"), std::string::npos);
}

// libpq's extended-protocol COPY sends a Sync that PostgreSQL ignores; the session must still
// count as idle afterwards, so SIGTERM lets it go at once instead of at the deadline.
TEST_F(ShutdownTest, SessionIsIdleAfterAnExtendedProtocolCopy) {
  start_proxy("timeouts: { shutdown_ms: 20000 }\n");
  Connection conn = connect_proxy();
  ResultPtr copy(PQexecParams(conn.get(), "copy shutdown_ledger from stdin", 0, nullptr, nullptr,
                              nullptr, nullptr, 0),
                 &PQclear);
  ASSERT_EQ(PQresultStatus(copy.get()), PGRES_COPY_IN);
  ASSERT_EQ(PQputCopyData(conn.get(), "7\n8\n", 4), 1);
  ASSERT_EQ(PQputCopyEnd(conn.get(), nullptr), 1);
  ResultPtr done(PQgetResult(conn.get()), &PQclear);
  ASSERT_EQ(PQresultStatus(done.get()), PGRES_COMMAND_OK) << PQresultErrorMessage(done.get());
  while (ResultPtr(PQgetResult(conn.get()), &PQclear)) {
  }
  EXPECT_EQ(conn.query_value("select string_agg(n::text, ',' order by n) from shutdown_ledger"),
            "7,8");
  proxy_->signal(SIGTERM);
  EXPECT_EQ(proxy_->wait_exit(5s), std::optional<int>(0));
  EXPECT_NE(proxy_->log().find("shutdown_drained"), std::string::npos);
  EXPECT_EQ(proxy_->log().find("shutdown_deadline"), std::string::npos);
}

TEST_F(ShutdownTest, DeadlineEndsTransactionsThatDoNotFinish) {
  start_proxy("timeouts: { shutdown_ms: 300 }\n");
  Connection stuck = connect_proxy();
  stuck.exec("begin; insert into shutdown_ledger values (1)");
  proxy_->signal(SIGTERM);
  EXPECT_EQ(proxy_->wait_exit(5s), std::optional<int>(0));
  EXPECT_NE(proxy_->log().find("shutdown_deadline"), std::string::npos);
  EXPECT_THROW(stuck.exec("commit"), QueryError);
  // The uncommitted insert was rolled back by the server when its session ended.
  EXPECT_TRUE(wait_until(
      [&] { return old_db().query("select count(*) from shutdown_ledger") == "0"; }, 5s));
}

TEST_F(ShutdownTest, SecondSignalExitsAtOnce) {
  start_proxy("timeouts: { shutdown_ms: 60000 }\n");
  Connection stuck = connect_proxy();
  stuck.exec("begin");
  proxy_->signal(SIGTERM);
  ASSERT_TRUE(wait_until(
      [&] { return proxy_->log().find("shutdown_requested") != std::string::npos; }, 5s));
  proxy_->signal(SIGINT);
  EXPECT_EQ(proxy_->wait_exit(2s), std::optional<int>(1));
  EXPECT_NE(proxy_->log().find("shutdown_forced"), std::string::npos);
}

TEST_F(ShutdownTest, IdleProxyExitsRightAway) {
  start_proxy();
  proxy_->signal(SIGTERM);
  EXPECT_EQ(proxy_->wait_exit(2s), std::optional<int>(0));
}

}  // namespace
}  // namespace cutover::testing
