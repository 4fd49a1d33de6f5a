// Read routing in dual_write against the real old and new clusters: the share of reads each
// server answers (each reports its own port, so the count is the servers', not cutover's),
// sticky sessions, writes and transactions on old, read-your-writes, session state copied to
// new, and fallback to old when new lacks a table.
#include <libpq-fe.h>

#include <cmath>
#include <set>

#include "tests/proxy/routing_fixture.h"

namespace cutover::testing {
namespace {

using ReadRoutingTest = RoutingTest;

TEST_F(ReadRoutingTest, RampSendsTheConfiguredShareOfSessionsToNew) {
  // 0 % and 100 % are exact; 25 % and 50 % are checked statistically over more sessions.
  for (auto [percent, sessions] : {std::pair{0.0, 20}, {25.0, 120}, {50.0, 120}, {100.0, 20}}) {
    start_routing(percent, "  read_your_writes_ms: 0\n");
    int on_new = 0;
    for (int i = 0; i < sessions; ++i) {
      std::string port = connect_proxy().query_value(kWhichServer);
      ASSERT_TRUE(port == old_port() || port == new_port()) << port;
      on_new += port == new_port();
    }
    double expected = percent / 100 * sessions;
    // Five standard deviations of a binomial: a failure means the ramp is off, not bad luck.
    double tolerance = 5 * std::sqrt(expected * (1 - percent / 100));
    EXPECT_LE(std::abs(on_new - expected), tolerance) << "ramp " << percent << " %: " << on_new;
  }
}

TEST_F(ReadRoutingTest, ASessionStaysOnOneSideAtAFixedRamp) {
  start_routing(50);
  for (int s = 0; s < 10; ++s) {
    Connection c = connect_proxy();
    std::set<std::string> sides;
    for (int i = 0; i < 20; ++i) sides.insert(c.query_value(kWhichServer));
    EXPECT_EQ(sides.size(), 1u) << "session " << s << " moved between databases";
  }
}

TEST_F(ReadRoutingTest, WritesReachBothAndReadsInWriteTransactionsStayOnOld) {
  old_db().query("create table if not exists routed_writes(v int)");
  TwoClusters::new_db().query("create table if not exists routed_writes(v int)");
  Connection c = connect_proxy();
  c.exec("insert into routed_writes values (1)");
  EXPECT_EQ(old_db().query("select count(*) from routed_writes where v = 1"), "1");
  // Mirrored (session_mirror.cpp): new has the row as well.
  EXPECT_EQ(TwoClusters::new_db().query("select count(*) from routed_writes where v = 1"), "1");
  c.exec("begin");
  c.exec("insert into routed_writes values (2)");
  EXPECT_EQ(c.query_value(kWhichServer), old_port());
  c.exec("commit");
  // A READ ONLY transaction may follow the ramp (100 % here).
  start_routing(100, "  read_your_writes_ms: 0\n");
  Connection r = connect_proxy();
  r.exec("begin read only");
  EXPECT_EQ(r.query_value(kWhichServer), new_port());
  r.exec("commit");
}

TEST_F(ReadRoutingTest, ReadsRightAfterAWriteStayOnOldForTheWindow) {
  start_routing(100, "  read_your_writes_ms: 60000\n");
  Connection c = connect_proxy();
  EXPECT_EQ(c.query_value(kWhichServer), new_port());
  old_db().query("create table if not exists ryw(v int)");
  TwoClusters::new_db().query("create table if not exists ryw(v int)");
  c.exec("insert into ryw values (1)");  // a write: read-your-writes starts
  EXPECT_EQ(c.query_value(kWhichServer), old_port());
  // With no window the next read follows the ramp again.
  start_routing(100, "  read_your_writes_ms: 0\n");
  Connection d = connect_proxy();
  d.exec("insert into ryw values (2)");
  EXPECT_EQ(d.query_value(kWhichServer), new_port());
}

TEST_F(ReadRoutingTest, ATemporaryTableKeepsTheSessionsReadsOnOld) {
  start_routing(100, "  read_your_writes_ms: 0\n");
  Connection c = connect_proxy();
  EXPECT_EQ(c.query_value(kWhichServer), new_port());
  c.exec("create temp table scratch(v int)");
  c.exec("insert into scratch values (7)");  // only on old, where the writes go
  EXPECT_EQ(c.query_value("select v from scratch"), "7");
  EXPECT_EQ(c.query_value(kWhichServer), old_port());
}

TEST_F(ReadRoutingTest, WithoutStandardConformingStringsNothingIsRouted) {
  start_routing(100, "  read_your_writes_ms: 0\n");
  Connection c = connect_proxy();
  EXPECT_EQ(c.query_value(kWhichServer), new_port());
  // Backslashes then escape inside '...', which the classifier does not model: stay on old.
  c.exec("set standard_conforming_strings = off");
  EXPECT_EQ(c.query_value(kWhichServer), old_port());
  c.exec("set standard_conforming_strings = on");
  EXPECT_EQ(c.query_value(kWhichServer), new_port());
}

TEST_F(ReadRoutingTest, SessionSettingsReachNewToo) {
  Connection c = connect_proxy();
  c.exec("set application_name = 'routed-app'");
  // Answered by new, which must have received the SET.
  EXPECT_EQ(c.query_value("select current_setting('application_name') || ':' || "
                          "current_setting('port')"),
            "routed-app:" + new_port());
}

TEST_F(ReadRoutingTest, AReadOfATableNewLacksIsAnsweredByOld) {
  old_db().query(
      "create table if not exists only_on_old(v int); "
      "truncate only_on_old; insert into only_on_old values (42)");
  Connection c = connect_proxy();
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(c.query_value("select v from only_on_old"), "42");
  }
  // The fallback costs the session nothing: new still answers the next read.
  EXPECT_EQ(c.query_value(kWhichServer), new_port());
  EXPECT_NE(proxy_->log().find("\"event\":\"read_fallback\""), std::string::npos);
  EXPECT_NE(proxy_->log().find("\"reason\":\"sqlstate 42P01\""), std::string::npos);
}

// Counts a log event's lines.
size_t count_events(const std::string& log, const std::string& event) {
  size_t count = 0;
  std::string needle = "\"event\":\"" + event + "\"";
  for (size_t at = log.find(needle); at != std::string::npos; at = log.find(needle, at + 1)) {
    ++count;
  }
  return count;
}

TEST_F(ReadRoutingTest, CircuitBreakerStopsFallbacksThenAProbeClosesIt) {
  old_db().query(
      "create table if not exists only_on_old(v int); "
      "truncate only_on_old; insert into only_on_old values (42)");
  start_routing(100, "  read_your_writes_ms: 0\n  fallback: { error_rate: 0.5, cooldown_s: 3 }\n");
  Connection c = connect_proxy();
  for (int i = 0; i < 30; ++i) EXPECT_EQ(c.query_value("select v from only_on_old"), "42");
  // 20 reads (the minimum sample) fell back; then the breaker opened and the rest went
  // straight to old. Counted up to the opening: on a loaded machine the loop can outlast the
  // cooldown, and the probe that follows fails here too (only_on_old is not on new).
  std::string log = proxy_->log();
  size_t opened = log.find("\"state\":\"open\"");
  ASSERT_NE(opened, std::string::npos);
  EXPECT_EQ(count_events(log.substr(0, opened), "read_fallback"), 20u);
  EXPECT_EQ(c.query_value(kWhichServer), old_port());
  // After the cooldown one probe goes to new; it succeeds and closes the breaker.
  EXPECT_TRUE(wait_until([&] { return c.query_value(kWhichServer) == new_port(); },
                         std::chrono::seconds(10)));
  // Logged once the probe's answer has reached the client, so awaited rather than read once.
  EXPECT_TRUE(
      wait_until([&] { return proxy_->log().find("\"state\":\"closed\"") != std::string::npos; },
                 std::chrono::seconds(5)));
}

TEST_F(ReadRoutingTest, FallbackBudgetShedsReadsToOldInsteadOfRetrying) {
  old_db().query(
      "create table if not exists only_on_old(v int); "
      "truncate only_on_old; insert into only_on_old values (42)");
  // Error rate 100 %: the breaker never opens, so only the budget (5 a second) acts.
  start_routing(100,
                "  read_your_writes_ms: 0\n  fallback: { error_rate: 1, budget_per_second: 5 }\n");
  Connection c = connect_proxy();
  auto started = std::chrono::steady_clock::now();
  for (int i = 0; i < 40; ++i) EXPECT_EQ(c.query_value("select v from only_on_old"), "42");
  double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  size_t fallbacks = count_events(proxy_->log(), "read_fallback");
  EXPECT_GE(fallbacks, 5u);
  // The budget plus what refilled while the loop ran; the other reads never touched new.
  EXPECT_LE(static_cast<double>(fallbacks), 5 + 5 * seconds + 1) << seconds << " s";
  EXPECT_LT(fallbacks, 40u);
}

TEST_F(ReadRoutingTest, AReadThatTimesOutOnNewIsCancelledThere) {
  start_routing(100, "  read_your_writes_ms: 0\n  fallback: { timeout_ms: 300 }\n");
  Connection c = connect_proxy();
  // Sleeps 30 s on new only: old answers at once after the fallback.
  std::string slow_on_new = "select pg_sleep(case when current_setting('port') = '" + new_port() +
                            "' then 30 else 0 end)::text || current_setting('port')";
  EXPECT_EQ(c.query_value(slow_on_new), old_port());
  // new does not go on sleeping for the remaining 29 s: cutover cancelled it.
  EXPECT_TRUE(wait_until(
      [&] {
        return TwoClusters::new_db().query(
                   "select count(*) from pg_stat_activity where state = 'active' and "
                   "query like 'select pg_sleep(case%'") == "0";
      },
      std::chrono::seconds(5)));
}

TEST_F(ReadRoutingTest, AGenuineErrorOnNewReachesTheClientWithItsSqlstate) {
  start_routing(100, "  read_your_writes_ms: 0\n");
  Connection c = connect_proxy();
  // An error that is not a fallback case reaches the client from new, with its SQLSTATE.
  try {
    c.query_value("select 1/0");
    ADD_FAILURE() << "division by zero succeeded";
  } catch (const QueryError& e) {
    EXPECT_EQ(e.sqlstate(), "22012");
  }
  EXPECT_EQ(c.query_value(kWhichServer), new_port());
}

TEST_F(ReadRoutingTest, CancelStopsAReadRunningOnNew) {
  start_routing(100, "  read_your_writes_ms: 0\n");
  Connection c = connect_proxy();
  ASSERT_EQ(PQsendQuery(c.get(), "select pg_sleep(30)"), 1);
  ASSERT_TRUE(wait_until(
      [&] {
        return TwoClusters::new_db().query(
                   "select count(*) from pg_stat_activity where query = "
                   "'select pg_sleep(30)' and state = 'active'") == "1";
      },
      std::chrono::seconds(5)));
  auto started = std::chrono::steady_clock::now();
  PGcancel* cancel = PQgetCancel(c.get());
  char error[256];
  ASSERT_EQ(PQcancel(cancel, error, sizeof error), 1) << error;
  PQfreeCancel(cancel);
  PGresult* result = PQgetResult(c.get());
  auto elapsed = std::chrono::steady_clock::now() - started;
  EXPECT_STREQ(PQresultErrorField(result, PG_DIAG_SQLSTATE), "57014");
  PQclear(result);
  while (PGresult* rest = PQgetResult(c.get())) PQclear(rest);
  EXPECT_LT(elapsed, std::chrono::seconds(1));
  EXPECT_EQ(c.query_value(kWhichServer), new_port());
}

}  // namespace
}  // namespace cutover::testing
