// The pass-through relay with real libpq clients: simple and extended protocol, pipelines,
// notifications, notices, COPY both ways, large results under backpressure, disconnects.
#include <poll.h>
#include <sys/socket.h>

#include <memory>

#include "tests/proxy/proxy_fixture.h"

namespace cutover::testing {
namespace {

using namespace std::chrono_literals;
using ResultPtr = std::unique_ptr<PGresult, decltype(&PQclear)>;

ResultPtr next_result(PGconn* conn) { return {PQgetResult(conn), &PQclear}; }

TEST_F(ProxyTest, SimpleQueriesAndBackendPidAgree) {
  Connection conn = connect_proxy();
  EXPECT_EQ(conn.query_value("select 6 * 7"), "42");
  EXPECT_EQ(conn.query("select 1; select g from generate_series(1, 3) g"), "1\n2\n3");
  EXPECT_EQ(conn.query_value("select pg_backend_pid()"), std::to_string(conn.backend_pid()));
  EXPECT_EQ(conn.query_value("select count(*) from pg_stat_activity where pid = " +
                             std::to_string(conn.backend_pid())),
            "1");
}

TEST_F(ProxyTest, ErrorsKeepTheirSqlstateAndTheSessionGoesOn) {
  Connection conn = connect_proxy();
  try {
    conn.exec("select 1/0");
    FAIL() << "division by zero succeeded";
  } catch (const QueryError& e) {
    EXPECT_EQ(e.sqlstate(), "22012");
  }
  try {
    conn.exec("selec 1");
    FAIL() << "syntax error succeeded";
  } catch (const QueryError& e) {
    EXPECT_EQ(e.sqlstate(), "42601");
  }
  EXPECT_EQ(conn.query_value("select 'still here'"), "still here");
}

TEST_F(ProxyTest, ExtendedProtocolWithParameters) {
  Connection conn = connect_proxy();
  const char* params[] = {"20", "22"};
  ResultPtr r(
      PQexecParams(conn.get(), "select $1::int + $2::int", 2, nullptr, params, nullptr, nullptr, 0),
      &PQclear);
  ASSERT_EQ(PQresultStatus(r.get()), PGRES_TUPLES_OK) << PQerrorMessage(conn.get());
  EXPECT_STREQ(PQgetvalue(r.get(), 0, 0), "42");
  ResultPtr prepared(PQprepare(conn.get(), "add_one", "select $1::int + 1", 1, nullptr), &PQclear);
  ASSERT_EQ(PQresultStatus(prepared.get()), PGRES_COMMAND_OK);
  for (int i = 0; i < 3; ++i) {
    std::string value = std::to_string(i);
    const char* arg[] = {value.c_str()};
    ResultPtr e(PQexecPrepared(conn.get(), "add_one", 1, arg, nullptr, nullptr, 0), &PQclear);
    EXPECT_EQ(std::string(PQgetvalue(e.get(), 0, 0)), std::to_string(i + 1));
  }
}

TEST_F(ProxyTest, PipelineErrorIsSkippedToSyncThenRecovers) {
  Connection conn = connect_proxy();
  PGconn* c = conn.get();
  ASSERT_EQ(PQenterPipelineMode(c), 1);
  for (const char* sql : {"select 1", "select 1/0", "select 3"}) {
    ASSERT_EQ(PQsendQueryParams(c, sql, 0, nullptr, nullptr, nullptr, nullptr, 0), 1);
  }
  ASSERT_EQ(PQpipelineSync(c), 1);
  ASSERT_EQ(PQsendQueryParams(c, "select 4", 0, nullptr, nullptr, nullptr, nullptr, 0), 1);
  ASSERT_EQ(PQpipelineSync(c), 1);

  auto expect_result = [&](ExecStatusType status, const char* value = nullptr) {
    ResultPtr r = next_result(c);
    ASSERT_NE(r.get(), nullptr);
    EXPECT_EQ(PQresultStatus(r.get()), status) << PQresultErrorMessage(r.get());
    if (value != nullptr) {
      EXPECT_STREQ(PQgetvalue(r.get(), 0, 0), value);
    }
    if (status != PGRES_PIPELINE_SYNC) {
      EXPECT_EQ(next_result(c).get(), nullptr);
    }
  };
  expect_result(PGRES_TUPLES_OK, "1");
  {
    ResultPtr r = next_result(c);
    EXPECT_EQ(PQresultStatus(r.get()), PGRES_FATAL_ERROR);
    EXPECT_STREQ(PQresultErrorField(r.get(), PG_DIAG_SQLSTATE), "22012");
    EXPECT_EQ(next_result(c).get(), nullptr);
  }
  expect_result(PGRES_PIPELINE_ABORTED);
  expect_result(PGRES_PIPELINE_SYNC);
  expect_result(PGRES_TUPLES_OK, "4");
  expect_result(PGRES_PIPELINE_SYNC);
  ASSERT_EQ(PQexitPipelineMode(c), 1);
  EXPECT_EQ(conn.query_value("select 5"), "5");
}

TEST_F(ProxyTest, NotificationsCrossClients) {
  Connection listener = connect_proxy();
  Connection notifier = connect_proxy();
  listener.exec("listen cutover_channel");
  notifier.exec("notify cutover_channel, 'hello through the proxy'");
  PGnotify* note = nullptr;
  bool arrived = wait_until(
      [&] {
        PQconsumeInput(listener.get());
        note = PQnotifies(listener.get());
        return note != nullptr;
      },
      5s);
  ASSERT_TRUE(arrived);
  EXPECT_STREQ(note->relname, "cutover_channel");
  EXPECT_STREQ(note->extra, "hello through the proxy");
  EXPECT_EQ(note->be_pid, notifier.backend_pid());
  PQfreemem(note);
}

TEST_F(ProxyTest, NoticesAreRelayed) {
  Connection conn = connect_proxy();
  std::string notices;
  PQsetNoticeReceiver(
      conn.get(),
      [](void* arg, const PGresult* r) {
        *static_cast<std::string*>(arg) += PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY);
      },
      &notices);
  conn.exec("do $$ begin raise notice 'hello %', 42; end $$");
  EXPECT_EQ(notices, "hello 42");
}

// 100,000 rows of 1,000-byte payload: 100 MB each way.
TEST_F(ProxyTest, CopyInAndOutOf100Megabytes) {
  constexpr int kRows = 100'000;
  Connection conn = connect_proxy();
  conn.exec("drop table if exists copy_target; create table copy_target (id int, payload text)");
  ResultPtr start(PQexec(conn.get(), "copy copy_target from stdin"), &PQclear);
  ASSERT_EQ(PQresultStatus(start.get()), PGRES_COPY_IN);
  size_t sent = 0;
  std::string row;
  for (int i = 0; i < kRows; ++i) {
    row = std::to_string(i) + '\t' + std::string(1000, static_cast<char>('a' + i % 26)) + '\n';
    ASSERT_EQ(PQputCopyData(conn.get(), row.data(), static_cast<int>(row.size())), 1);
    sent += row.size();
  }
  ASSERT_EQ(PQputCopyEnd(conn.get(), nullptr), 1);
  ResultPtr done = next_result(conn.get());
  ASSERT_EQ(PQresultStatus(done.get()), PGRES_COMMAND_OK) << PQresultErrorMessage(done.get());
  EXPECT_STREQ(PQcmdTuples(done.get()), "100000");
  while (next_result(conn.get())) {
  }
  EXPECT_GE(sent, 100'000'000u);
  EXPECT_EQ(old_db().query("select count(*), sum(length(payload)), sum(id) from copy_target"),
            "100000\t100000000\t4999950000");

  ResultPtr out(PQexec(conn.get(), "copy copy_target to stdout"), &PQclear);
  ASSERT_EQ(PQresultStatus(out.get()), PGRES_COPY_OUT);
  size_t received = 0;
  int rows = 0;
  for (char* buf = nullptr;;) {
    int n = PQgetCopyData(conn.get(), &buf, 0);
    if (n < 0) break;
    received += static_cast<size_t>(n);
    ++rows;
    PQfreemem(buf);
  }
  EXPECT_EQ(rows, kRows);
  EXPECT_EQ(received, sent);
  ResultPtr end = next_result(conn.get());
  EXPECT_EQ(PQresultStatus(end.get()), PGRES_COMMAND_OK);
  conn.exec("drop table copy_target");
}

// The client reads one row and stalls; the backend must block on its socket (ClientWrite)
// while the proxy's memory stays flat, and then every row must still arrive.
TEST_F(ProxyTest, MillionRowResultStreamsWithBoundedMemory) {
  constexpr long kMaxGrowthKb = 16 * 1024;  // the result is ~110 MB
  Connection conn = connect_proxy();
  long baseline_kb = proxy_->rss_kb();
  ASSERT_EQ(
      PQsendQuery(conn.get(), "select g, repeat('x', 100) from generate_series(1, 1000000) g"), 1);
  ASSERT_EQ(PQsetSingleRowMode(conn.get()), 1);
  ResultPtr first = next_result(conn.get());
  ASSERT_EQ(PQresultStatus(first.get()), PGRES_SINGLE_TUPLE);
  EXPECT_STREQ(PQgetvalue(first.get(), 0, 0), "1");

  std::string blocked_sql =
      "select wait_event from pg_stat_activity where pid = " + std::to_string(conn.backend_pid());
  ASSERT_TRUE(wait_until([&] { return old_db().query(blocked_sql) == "ClientWrite"; }, 10s));
  EXPECT_LT(proxy_->rss_kb() - baseline_kb, kMaxGrowthKb);

  long rows = 1;
  for (;;) {
    ResultPtr r = next_result(conn.get());
    if (!r) break;
    if (PQresultStatus(r.get()) == PGRES_SINGLE_TUPLE) ++rows;
  }
  EXPECT_EQ(rows, 1'000'000);
  EXPECT_LT(proxy_->peak_rss_kb() - baseline_kb, kMaxGrowthKb);
}

TEST_F(ProxyTest, ClientVanishingMidResultEndsItsBackend) {
  Connection conn = connect_proxy();
  int pid = conn.backend_pid();
  ASSERT_EQ(PQsendQuery(conn.get(), "select g from generate_series(1, 5000000) g"), 1);
  ASSERT_EQ(PQsetSingleRowMode(conn.get()), 1);
  ResultPtr first = next_result(conn.get());
  ASSERT_EQ(PQresultStatus(first.get()), PGRES_SINGLE_TUPLE);
  // Cut the socket under libpq, as a crashed client would.
  ::shutdown(PQsocket(conn.get()), SHUT_RDWR);
  std::string alive = "select count(*) from pg_stat_activity where pid = " + std::to_string(pid);
  EXPECT_TRUE(wait_until([&] { return old_db().query(alive) == "0"; }, 10s));
  EXPECT_EQ(connect_proxy().query_value("select 'next client'"), "next client");
}

}  // namespace
}  // namespace cutover::testing
