// A database that goes away under a running query: a fast shutdown and a SIGKILLed backend.
// The client must get an error at once, never a hang, and the proxy must outlive the fault.
// Runs against its own cluster, which the tests stop, restart and crash.
#include <libpq-fe.h>
#include <poll.h>
#include <signal.h>

#include <cerrno>
#include <memory>

#include "protocol/backend.h"
#include "protocol/framing.h"
#include "protocol/startup.h"
#include "tests/proxy/proxy_fixture.h"

namespace cutover::testing {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using ResultPtr = std::unique_ptr<PGresult, decltype(&PQclear)>;

// The next result of a query sent with PQsendQuery, or nullptr if none came within `timeout`
// (PQgetResult alone would wait forever on a proxy that hangs).
ResultPtr result_within(PGconn* conn, std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  while (PQisBusy(conn) != 0) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) return ResultPtr(nullptr, &PQclear);
    pollfd p{PQsocket(conn), POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left.count())) < 0 && errno != EINTR) break;
    if (PQconsumeInput(conn) == 0) break;  // the connection is gone: PQgetResult says so
  }
  return ResultPtr(PQgetResult(conn), &PQclear);
}

// Takes what libpq has left after a FATAL error (its own "server closed the connection"
// result), so that PQstatus tells whether the connection ended.
void drain_results(PGconn* conn) {
  while (result_within(conn, 5s)) {
  }
}

std::string sqlstate_of(const ResultPtr& r) {
  const char* code = PQresultErrorField(r.get(), PG_DIAG_SQLSTATE);
  return code == nullptr ? "" : code;
}

class BackendFaultTest : public ProxyTest {
 protected:
  static void SetUpTestSuite() {
    cluster_ = std::make_unique<PgCluster>(PgCluster::Options{.name = "fault"});
  }
  static void TearDownTestSuite() { cluster_.reset(); }

  void SetUp() override {
    ASSERT_NE(cluster_, nullptr) << "the suite's cluster did not start";
    cluster_->start();  // a test that failed half way may have left it stopped
    ProxyTest::SetUp();
  }
  uint16_t backend_port() const override { return cluster_->port(); }

  // Sends `select pg_sleep(30)` on conn and waits until its backend (pid) runs it.
  static void start_long_query(Connection& conn, const std::string& pid) {
    ASSERT_EQ(PQsendQuery(conn.get(), "select pg_sleep(30)"), 1);
    std::string state = "select state from pg_stat_activity where pid = " + pid;
    ASSERT_TRUE(wait_until([&] { return cluster_->query(state) == "active"; }, 5s));
  }

  static bool proxy_serves(const std::string& conninfo) {
    try {
      return connect(conninfo).query_value("select 'served'") == "served";
    } catch (const std::exception&) {
      return false;
    }
  }

  static std::unique_ptr<PgCluster> cluster_;
};

std::unique_ptr<PgCluster> BackendFaultTest::cluster_;

TEST_F(BackendFaultTest, DatabaseShutDownMidQueryGives57P01AndComesBack) {
  Connection conn = connect_proxy();
  std::string pid = conn.query_value("select pg_backend_pid()");
  ASSERT_NO_FATAL_FAILURE(start_long_query(conn, pid));

  auto stopping = Clock::now();
  cluster_->stop();  // fast shutdown: the backend says 57P01 before it goes
  ResultPtr r = result_within(conn.get(), 5s);
  auto elapsed = Clock::now() - stopping;
  ASSERT_TRUE(r) << "no result 5 s after the database stopped";
  EXPECT_EQ(PQresultStatus(r.get()), PGRES_FATAL_ERROR);
  EXPECT_EQ(sqlstate_of(r), "57P01") << PQresultErrorMessage(r.get());
  EXPECT_LT(elapsed, 5s);
  drain_results(conn.get());
  EXPECT_EQ(PQstatus(conn.get()), CONNECTION_BAD);
  EXPECT_TRUE(proxy_->running());
  EXPECT_TRUE(wait_until(
      [&] { return proxy_->log().find("\"backend_closed\"") != std::string::npos; }, 5s));

  // While the database is down, new clients hear so from cutover.
  RawClient refused(proxy_->port());
  refused.send(startup_bytes());
  std::string reply = refused.read_until_closed();
  EXPECT_TRUE(refused.closed());
  EXPECT_EQ(first_error_sqlstate(reply), "08006");
  EXPECT_NE(reply.find("could not connect to the old database"), std::string::npos);

  cluster_->start();  // returns once the server accepts connections
  EXPECT_EQ(connect_proxy().query_value("select 'back again'"), "back again");
  EXPECT_TRUE(proxy_->running());
}

TEST_F(BackendFaultTest, KilledBackendGives08006AndTheProxySurvivesTheCrashRestart) {
  Connection conn = connect_proxy();
  std::string pid = conn.query_value("select pg_backend_pid()");
  RawClient bystander(proxy_->port());
  ASSERT_NE(raw_login(bystander).find('Z'), std::string::npos);
  ASSERT_NO_FATAL_FAILURE(start_long_query(conn, pid));

  auto killing = Clock::now();
  ASSERT_EQ(::kill(std::stoi(pid), SIGKILL), 0);
  ResultPtr r = result_within(conn.get(), 5s);
  auto elapsed = Clock::now() - killing;
  ASSERT_TRUE(r) << "no result 5 s after the backend was killed";
  EXPECT_EQ(PQresultStatus(r.get()), PGRES_FATAL_ERROR);
  // A SIGKILLed process says nothing, so the error is cutover's own.
  EXPECT_EQ(sqlstate_of(r), "08006") << PQresultErrorMessage(r.get());
  EXPECT_LT(elapsed, 5s);
  drain_results(conn.get());
  EXPECT_EQ(PQstatus(conn.get()), CONNECTION_BAD);

  // The postmaster then ends every other backend; PostgreSQL 15 tells their clients with a
  // WARNING (a NoticeResponse, 57P02), not an error, so cutover adds its 08006 when the
  // backend's socket closes.
  std::string said = bystander.read_until_closed(10s);
  EXPECT_TRUE(bystander.closed());
  EXPECT_EQ(first_error_sqlstate(said, 'N'), "57P02");
  EXPECT_EQ(first_error_sqlstate(said), "08006");

  EXPECT_TRUE(proxy_->running());
  EXPECT_TRUE(wait_until([&] { return proxy_serves(conninfo()); }, 30s));
  EXPECT_TRUE(proxy_->running());
}

}  // namespace
}  // namespace cutover::testing
