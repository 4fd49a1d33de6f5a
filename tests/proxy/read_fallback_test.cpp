// Reads routed to new (ramp 100 %) when new fails in the ways production sees: down before the
// session opens, shut down under open sessions, and frozen (SIGSTOP) mid-session. Each time
// the client sees no error at all: old answers.
#include <signal.h>

#include <memory>
#include <sstream>
#include <vector>

#include "tests/proxy/proxy_fixture.h"

namespace cutover::testing {
namespace {

using namespace std::chrono_literals;

constexpr char kWhichServer[] = "select current_setting('port')";

class ReadFallbackTest : public ProxyTest {
 protected:
  static void SetUpTestSuite() {
    new_ = std::make_unique<PgCluster>(PgCluster::Options{.name = "fallback-new"});
  }
  static void TearDownTestSuite() { new_.reset(); }

  void SetUp() override {
    ASSERT_NE(new_, nullptr);
    new_->start();  // a test may have stopped it
    start_proxy(
        "migration:\n  phase: dual_write\n  read_ramp_percent: 100\n  read_your_writes_ms: 0\n"
        "  fallback: { timeout_ms: 300 }\n");
  }
  uint16_t new_backend_port() const override { return new_->port(); }

  std::string old_port() const { return std::to_string(old_db().port()); }
  std::string new_port() const { return std::to_string(new_->port()); }

  // Freezes or thaws new: its postmaster and the client backends serving cutover. (Each
  // PostgreSQL child is its own process group, so the postmaster's group alone is not enough.)
  static void signal_new(int signal, const std::vector<pid_t>& backends) {
    ASSERT_EQ(::kill(new_->postmaster_pid(), signal), 0);
    for (pid_t pid : backends) ASSERT_EQ(::kill(pid, signal), 0);
  }
  static std::vector<pid_t> new_client_backends() {
    std::vector<pid_t> pids;
    std::istringstream rows(
        new_->query("select pid from pg_stat_activity where backend_type = 'client backend' "
                    "and pid <> pg_backend_pid()"));
    for (std::string row; std::getline(rows, row);) pids.push_back(std::stoi(row));
    return pids;
  }

  static std::unique_ptr<PgCluster> new_;
};

std::unique_ptr<PgCluster> ReadFallbackTest::new_;

TEST_F(ReadFallbackTest, NewDownAtLoginLeavesEveryReadToOld) {
  new_->stop();
  Connection c = connect_proxy();
  for (int i = 0; i < 5; ++i) EXPECT_EQ(c.query_value(kWhichServer), old_port());
  EXPECT_NE(proxy_->log().find("\"event\":\"new_login_failed\""), std::string::npos);
}

TEST_F(ReadFallbackTest, NewShutDownUnderOpenSessionsCostsThemNothing) {
  std::vector<Connection> sessions;
  for (int i = 0; i < 4; ++i) {
    sessions.push_back(connect_proxy());
    EXPECT_EQ(sessions.back().query_value(kWhichServer), new_port());
  }
  new_->stop();
  for (auto& s : sessions) {
    for (int i = 0; i < 3; ++i) EXPECT_EQ(s.query_value(kWhichServer), old_port());
  }
  EXPECT_NE(proxy_->log().find("\"event\":\"read_fallback\""), std::string::npos);
}

TEST_F(ReadFallbackTest, NewComingBackGetsTheSessionWithItsSettings) {
  new_->stop();
  Connection c = connect_proxy();
  c.exec("set application_name = 'back-again'");
  EXPECT_EQ(c.query_value(kWhichServer), old_port());
  new_->start();
  // Reconnected in the background (backoff from 1 s), settings replayed, reads back on new.
  EXPECT_TRUE(wait_until([&] { return c.query_value(kWhichServer) == new_port(); }, 10s));
  EXPECT_EQ(c.query_value("select current_setting('application_name') || ':' || "
                          "current_setting('port')"),
            "back-again:" + new_port());
  EXPECT_NE(proxy_->log().find("\"event\":\"new_reconnected\""), std::string::npos);
}

TEST_F(ReadFallbackTest, FrozenNewTimesOutAndOldAnswers) {
  Connection c = connect_proxy();
  EXPECT_EQ(c.query_value(kWhichServer), new_port());
  auto backends = new_client_backends();
  ASSERT_EQ(backends.size(), 1u);
  signal_new(SIGSTOP, backends);
  auto started = std::chrono::steady_clock::now();
  std::string answer;
  try {
    answer = c.query_value(kWhichServer);
  } catch (...) {
    signal_new(SIGCONT, backends);
    throw;
  }
  auto elapsed = std::chrono::steady_clock::now() - started;
  signal_new(SIGCONT, backends);
  EXPECT_EQ(answer, old_port());
  EXPECT_GE(elapsed, 300ms);
  EXPECT_LT(elapsed, 3s);
  EXPECT_NE(proxy_->log().find("\"reason\":\"timeout\""), std::string::npos);
  // The session goes on (on old until new is reconnected in the background).
  std::string next = c.query_value(kWhichServer);
  EXPECT_TRUE(next == old_port() || next == new_port()) << next;
}

}  // namespace
}  // namespace cutover::testing
