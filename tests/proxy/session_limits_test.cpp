// What a session refuses and when it ends on its own: the client limit, start-up and idle
// timeouts, malformed and oversized input, encryption requests, cancel keys, lost backends.
#include <libpq-fe.h>

#include <memory>

#include "protocol/frontend.h"
#include "protocol/startup.h"
#include "tests/proxy/proxy_fixture.h"

namespace cutover::testing {
namespace {

using namespace std::chrono_literals;
using ResultPtr = std::unique_ptr<PGresult, decltype(&PQclear)>;

TEST_F(ProxyTest, ClientsBeyondTheLimitGet53300) {
  start_proxy("", "max_clients: 2");
  Connection first = connect_proxy();
  Connection second = connect_proxy();
  RawClient third(proxy_->port());
  third.send(startup_bytes());
  std::string reply = third.read_until_closed();
  EXPECT_EQ(first_error_sqlstate(reply), "53300");
  EXPECT_TRUE(third.closed());
  PGconn* refused = PQconnectdb(conninfo().c_str());
  EXPECT_NE(std::string(PQerrorMessage(refused)).find("sorry, too many clients already"),
            std::string::npos);
  PQfinish(refused);
  // A slot frees up once a client leaves.
  { Connection gone = std::move(first); }
  EXPECT_TRUE(wait_until(
      [&] {
        PGconn* c = PQconnectdb(conninfo().c_str());
        bool ok = PQstatus(c) == CONNECTION_OK;
        PQfinish(c);
        return ok;
      },
      5s));
}

TEST_F(ProxyTest, SilentClientIsTimedOutDuringStartup) {
  start_proxy("timeouts: { client_startup_ms: 300 }\n");
  RawClient silent(proxy_->port());
  RawClient half(proxy_->port());
  half.send(startup_bytes().substr(0, 6));
  silent.read_until_closed(5s);
  half.read_until_closed(5s);
  EXPECT_TRUE(silent.closed());
  EXPECT_TRUE(half.closed());
  EXPECT_EQ(connect_proxy().query_value("select 1"), "1");
}

TEST_F(ProxyTest, IdleClientIsDisconnectedWith57P05) {
  start_proxy("timeouts: { client_idle_ms: 300 }\n");
  // A query longer than the idle limit is not idleness.
  EXPECT_EQ(connect_proxy().query_value("select pg_sleep(0.6)::text"), "");
  RawClient client(proxy_->port());
  ASSERT_NE(raw_login(client).find('Z'), std::string::npos);
  std::string reply = client.read_until_closed(5s);
  EXPECT_TRUE(client.closed());
  EXPECT_EQ(first_error_sqlstate(reply), "57P05");
}

TEST_F(ProxyTest, OversizedMessageIsRefusedWith08P01) {
  start_proxy("limits: { max_message_bytes: 4096 }\n");
  RawClient client(proxy_->port());
  ASSERT_NE(raw_login(client).find('Z'), std::string::npos);
  // A Query header announcing 10 MB: refused before any body is awaited.
  client.send(std::string("Q\x00\x98\x96\x80", 5));
  std::string reply = client.read_until_closed(5s);
  EXPECT_TRUE(client.closed());
  EXPECT_EQ(first_error_sqlstate(reply), "08P01");
  // A message within the limit still works for everyone else.
  Connection conn = connect_proxy();
  EXPECT_EQ(conn.query_value("select length(repeat('x', 3000))"), "3000");
}

TEST_F(ProxyTest, MalformedStartupPacketsGetErrors) {
  RawClient tiny(proxy_->port());
  tiny.send(std::string("\0\0\0\3", 4));
  EXPECT_EQ(first_error_sqlstate(tiny.read_until_closed()), "08P01");

  RawClient huge(proxy_->port());
  huge.send(std::string("\x7f\0\0\0", 4));
  EXPECT_EQ(first_error_sqlstate(huge.read_until_closed()), "08P01");

  RawClient old_protocol(proxy_->port());
  std::string v2("\0\0\0\x08\0\x02\0\0", 8);
  old_protocol.send(v2);
  EXPECT_EQ(first_error_sqlstate(old_protocol.read_until_closed()), "0A000");

  RawClient no_user(proxy_->port());
  protocol::StartupMessage m;
  m.parameters = {{"database", "postgres"}};
  std::string bytes;
  protocol::encode(m, bytes);
  no_user.send(bytes);
  EXPECT_EQ(first_error_sqlstate(no_user.read_until_closed()), "08P01");
}

TEST_F(ProxyTest, EncryptionRequestsAreDeclined) {
  for (bool gss : {false, true}) {
    RawClient client(proxy_->port());
    std::string request;
    if (gss) {
      protocol::encode(protocol::GSSENCRequest{}, request);
    } else {
      protocol::encode(protocol::SSLRequest{}, request);
    }
    client.send(request);
    EXPECT_EQ(client.read(1), "N");
    EXPECT_NE(raw_login(client).find('Z'), std::string::npos);
  }
  EXPECT_EQ(connect(conninfo() + " sslmode=prefer").query_value("select 1"), "1");
  PGconn* required = PQconnectdb((conninfo() + " sslmode=require").c_str());
  EXPECT_EQ(PQstatus(required), CONNECTION_BAD);
  EXPECT_NE(std::string(PQerrorMessage(required)).find("does not support SSL"), std::string::npos);
  PQfinish(required);
}

TEST_F(ProxyTest, BytesAfterAnSslRequestEndTheConnection) {
  RawClient client(proxy_->port());
  std::string request;
  protocol::encode(protocol::SSLRequest{}, request);
  client.send(request + startup_bytes());
  std::string reply = client.read_until_closed();
  EXPECT_TRUE(client.closed());
  // PostgreSQL's answer to the same thing: FATAL 08P01, and never a login.
  size_t error_at = reply.find('E');
  ASSERT_NE(error_at, std::string::npos);
  EXPECT_EQ(first_error_sqlstate(reply.substr(error_at)), "08P01");
  EXPECT_EQ(reply.find('Z'), std::string::npos);
}

TEST_F(ProxyTest, CancelStopsTheQueryWith57014WithinASecond) {
  Connection conn = connect_proxy();
  ASSERT_EQ(PQsendQuery(conn.get(), "select pg_sleep(30)"), 1);
  std::string running =
      "select state from pg_stat_activity where pid = " + std::to_string(conn.backend_pid());
  ASSERT_TRUE(wait_until([&] { return old_db().query(running) == "active"; }, 5s));
  auto start = std::chrono::steady_clock::now();
  PGcancel* cancel = PQgetCancel(conn.get());
  char error[256];
  ASSERT_EQ(PQcancel(cancel, error, sizeof error), 1) << error;
  PQfreeCancel(cancel);
  ResultPtr r(PQgetResult(conn.get()), &PQclear);
  auto elapsed = std::chrono::steady_clock::now() - start;
  EXPECT_STREQ(PQresultErrorField(r.get(), PG_DIAG_SQLSTATE), "57014");
  EXPECT_LT(elapsed, 1s);
  while (ResultPtr(PQgetResult(conn.get()), &PQclear)) {
  }
  EXPECT_EQ(conn.query_value("select 'after cancel'"), "after cancel");
}

TEST_F(ProxyTest, CancelWithAWrongSecretIsIgnored) {
  Connection conn = connect_proxy();
  ASSERT_EQ(PQsendQuery(conn.get(), "select pg_sleep(0.5)::text"), 1);
  std::string running =
      "select state from pg_stat_activity where pid = " + std::to_string(conn.backend_pid());
  ASSERT_TRUE(wait_until([&] { return old_db().query(running) == "active"; }, 5s));
  RawClient forger(proxy_->port());
  std::string bytes;
  protocol::encode(protocol::CancelRequest{conn.backend_pid(), 12345}, bytes);
  forger.send(bytes);
  forger.read_until_closed();
  ResultPtr r(PQgetResult(conn.get()), &PQclear);
  EXPECT_EQ(PQresultStatus(r.get()), PGRES_TUPLES_OK) << PQresultErrorMessage(r.get());
}

TEST_F(ProxyTest, TerminatedBackendReachesTheClientAsAnError) {
  Connection conn = connect_proxy();
  ASSERT_EQ(PQsendQuery(conn.get(), "select pg_sleep(30)"), 1);
  std::string pid = std::to_string(conn.backend_pid());
  ASSERT_TRUE(wait_until(
      [&] {
        return old_db().query("select state from pg_stat_activity where pid = " + pid) == "active";
      },
      5s));
  EXPECT_EQ(old_db().query("select pg_terminate_backend(" + pid + ")"), "t");
  ResultPtr r(PQgetResult(conn.get()), &PQclear);
  EXPECT_EQ(PQresultStatus(r.get()), PGRES_FATAL_ERROR);
  EXPECT_STREQ(PQresultErrorField(r.get(), PG_DIAG_SQLSTATE), "57P01");
  EXPECT_EQ(connect_proxy().query_value("select 'others unaffected'"), "others unaffected");
}

TEST_F(ProxyTest, UnknownDatabaseIsReportedWith3D000) {
  RawClient client(proxy_->port());
  client.send(startup_bytes("postgres", "no_such_database"));
  EXPECT_EQ(first_error_sqlstate(client.read_until_closed()), "3D000");
}

TEST_F(ProxyTest, UnreachableDatabaseGives08006) {
  uint16_t closed_port = free_port();
  proxy_.reset();
  uint16_t port = free_port();
  proxy_ = std::make_unique<CutoverProcess>(
      CUTOVER_BINARY,
      "listen: { port: " + std::to_string(port) + " }\n" + kTrustLocal +
          "backends: { old: { port: " + std::to_string(closed_port) +
          " } }\ntimeouts: { backend_connect_ms: 500 }\n",
      port);
  RawClient client(port);
  client.send(startup_bytes());
  EXPECT_EQ(first_error_sqlstate(client.read_until_closed()), "08006");
}

}  // namespace
}  // namespace cutover::testing
