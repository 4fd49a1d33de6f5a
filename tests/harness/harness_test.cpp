// Self-test of the test harness: real clusters start, answer, restart, speak TLS and clean up;
// the child process runner waits, measures, signals and reports. Not a test of cutover itself.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "tests/harness/cutover_process.h"
#include "tests/harness/pg_cluster.h"
#include "tests/harness/test_certificates.h"
#include "tests/harness/two_clusters.h"
#include "tests/harness/util.h"

namespace cutover::testing {
namespace {

using std::chrono_literals::operator""ms;
using std::chrono_literals::operator""s;

// A zombie counts as gone: the postmaster's parent is init, which reaps when it gets round to it.
bool process_alive(pid_t pid) {
  std::string stat = read_file("/proc/" + std::to_string(pid) + "/stat");
  std::size_t paren = stat.rfind(')');
  return paren != std::string::npos && paren + 2 < stat.size() && stat[paren + 2] != 'Z';
}

TEST(TwoClustersTest, BothClustersRunOnDifferentPorts) {
  PgCluster& old_db = TwoClusters::old_db();
  PgCluster& new_db = TwoClusters::new_db();
  EXPECT_NE(old_db.port(), new_db.port());
  EXPECT_NE(old_db.postmaster_pid(), new_db.postmaster_pid());
  EXPECT_EQ(old_db.query("select 1"), "1");
  EXPECT_EQ(new_db.query("select 1"), "1");
  EXPECT_EQ(old_db.query("show server_version_num").substr(0, 2), "15");
  EXPECT_EQ(old_db.query("show listen_addresses"), "127.0.0.1");
  EXPECT_EQ(old_db.query("show fsync"), "off");
  EXPECT_EQ(old_db.query("show max_connections"), "200");
}

TEST(TwoClustersTest, QueryReturnsRowsAsTabSeparatedLines) {
  EXPECT_EQ(TwoClusters::old_db().query("select 1, 'a b' union all select 2, null order by 1"),
            "1\ta b\n2\t");
  EXPECT_EQ(TwoClusters::old_db().query("select 1 where false"), "");
  EXPECT_EQ(TwoClusters::old_db().query("create temp table t(x int); insert into t values (3); "
                                        "select x from t"),
            "3");
}

TEST(TwoClustersTest, ErrorsCarryTheSqlstate) {
  Connection conn = connect(TwoClusters::new_db().conninfo());
  try {
    conn.query_value("select 1/0");
    FAIL() << "division by zero did not throw";
  } catch (const QueryError& e) {
    EXPECT_EQ(e.sqlstate(), "22012");
    EXPECT_NE(std::string(e.what()).find("[22012]"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("division by zero"), std::string::npos) << e.what();
  }
  EXPECT_EQ(conn.query_value("select 'still usable'"), "still usable");
  EXPECT_THROW(TwoClusters::old_db().query("select * from no_such_table"), QueryError);
  EXPECT_THROW(connect("host=127.0.0.1 port=1 connect_timeout=2"), std::runtime_error);
}

TEST(PgClusterTest, ScramClusterRejectsAWrongPassword) {
  PgCluster cluster({.name = "scram", .auth = "scram-sha-256", .password = "s3cret pass"});
  EXPECT_NE(cluster.conninfo().find("password='s3cret pass'"), std::string::npos);
  EXPECT_EQ(cluster.query("select current_user"), "postgres");
  EXPECT_EQ(cluster.query("select rolpassword like 'SCRAM-SHA-256$%' from pg_authid "
                          "where rolname = 'postgres'"),
            "t");
  try {
    connect(cluster.conninfo("postgres", "postgres", "wrong"));
    FAIL() << "a wrong password was accepted";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("password authentication failed"), std::string::npos)
        << e.what();
  }
  std::string no_password =
      "host=127.0.0.1 port=" + std::to_string(cluster.port()) + " user=postgres";
  EXPECT_THROW(connect(no_password), std::runtime_error);
}

// The message of the exception connect(conninfo) throws, or "" if it connected.
std::string connect_error(const std::string& conninfo) {
  try {
    connect(conninfo);
  } catch (const std::runtime_error& e) {
    return e.what();
  }
  return {};
}

TEST(TestCertificatesTest, MakesPrivateKeysAndCleansUp) {
  std::filesystem::path dir;
  {
    TestCertificates certs({"db.test", "::1"});
    dir = certs.dir();
    for (const auto& file : {certs.ca_file(), certs.ca_key(), certs.server_cert(),
                             certs.server_key(), certs.wrong_cert(), certs.wrong_key()}) {
      EXPECT_TRUE(std::filesystem::is_regular_file(file)) << file;
    }
    for (const auto& key : {certs.ca_key(), certs.server_key(), certs.wrong_key()}) {
      struct stat info {};
      ASSERT_EQ(::stat(key.c_str(), &info), 0) << key;
      EXPECT_EQ(info.st_mode & 0777, 0600u) << key;
    }
    EXPECT_NE(read_file(certs.server_cert()).find("-----BEGIN CERTIFICATE-----"),
              std::string::npos);
    CommandResult sans = run_command({"openssl", "x509", "-noout", "-ext", "subjectAltName", "-in",
                                      certs.server_cert().string()});
    ASSERT_EQ(sans.status, 0) << sans.err;
    EXPECT_NE(sans.out.find("DNS:localhost, IP Address:127.0.0.1, DNS:db.test, IP Address:0:0:"),
              std::string::npos)
        << sans.out;
    EXPECT_EQ(certs.verify_full_conninfo(),
              "sslmode=verify-full sslrootcert=" + conninfo_value(certs.ca_file().string()));
  }
  EXPECT_FALSE(std::filesystem::exists(dir));
  EXPECT_THROW(TestCertificates({"not a name"}), std::runtime_error);
}

TEST(PgClusterTest, SslClusterPassesVerifyFullAndStillTakesPlaintext) {
  TestCertificates certs;
  PgCluster cluster({.name = "tls", .auth = "scram-sha-256", .ssl_cert_dir = certs.dir().string()});
  const std::string tls = cluster.conninfo() + " " + certs.verify_full_conninfo();
  const std::string is_ssl = "select ssl from pg_stat_ssl where pid = pg_backend_pid()";
  EXPECT_EQ(connect(tls).query_value(is_ssl), "t");
  EXPECT_EQ(connect(tls + " host=localhost").query_value(is_ssl), "t");
  // SCRAM over TLS binds the channel (SCRAM-SHA-256-PLUS with tls-server-end-point).
  EXPECT_EQ(connect(tls + " channel_binding=require").query_value(is_ssl), "t");
  EXPECT_EQ(connect(cluster.conninfo() + " sslmode=disable").query_value(is_ssl), "f");

  // A certificate that does not name the host dialled is refused.
  std::string error = connect_error(tls + " host=wrong.example hostaddr=127.0.0.1");
  EXPECT_NE(error.find("does not match host name"), std::string::npos) << error;
  // As is one from a CA the client does not trust.
  TestCertificates other;
  error = connect_error(cluster.conninfo() + " " + other.verify_full_conninfo());
  EXPECT_NE(error.find("certificate verify failed"), std::string::npos) << error;
}

TEST(PgClusterTest, StopAndStartKeepTheDataAndThePort) {
  PgCluster cluster({.name = "restart", .conf = {"work_mem = '7MB'"}});
  EXPECT_EQ(cluster.query("show work_mem"), "7MB");
  cluster.query("create table kept(id int primary key); insert into kept values (1), (2)");
  const uint16_t port = cluster.port();
  const pid_t first_pid = cluster.postmaster_pid();

  cluster.stop();
  // pg_ctl returns once postmaster.pid is gone, a moment before the process itself.
  EXPECT_TRUE(wait_until([&] { return !process_alive(first_pid); }, 5s));
  EXPECT_THROW(cluster.query("select 1"), std::runtime_error);
  EXPECT_THROW(cluster.postmaster_pid(), std::runtime_error);
  cluster.stop();  // idempotent

  cluster.start();
  cluster.start();  // idempotent
  EXPECT_EQ(cluster.port(), port);
  EXPECT_NE(cluster.postmaster_pid(), first_pid);
  EXPECT_EQ(cluster.query("select string_agg(id::text, ',' order by id) from kept"), "1,2");
}

TEST(PgClusterTest, DestructionStopsTheServerAndRemovesTheDirectory) {
  std::filesystem::path dir;
  pid_t pid = 0;
  {
    PgCluster cluster({.name = "gone"});
    dir = cluster.dir();
    pid = cluster.postmaster_pid();
    EXPECT_TRUE(std::filesystem::exists(dir / "data" / "PG_VERSION"));
    EXPECT_EQ(read_file(dir / "port"), std::to_string(cluster.port()) + "\n");
  }
  EXPECT_FALSE(std::filesystem::exists(dir));
  EXPECT_TRUE(wait_until([&] { return !process_alive(pid); }, 5s));
}

TEST(PgClusterTest, StartFailureThrowsWithTheServerLogAndLeavesNothing) {
  const auto temp = std::filesystem::temp_directory_path();
  auto count_dirs = [&] {
    int n = 0;
    for (const auto& entry : std::filesystem::directory_iterator(temp)) {
      n += entry.path().filename().string().starts_with("cutover-broken-") ? 1 : 0;
    }
    return n;
  };
  const int before = count_dirs();
  try {
    PgCluster cluster({.name = "broken", .conf = {"shared_buffers = 'bogus'"}});
    FAIL() << "a cluster with a broken config started";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("shared_buffers"), std::string::npos) << e.what();
  }
  EXPECT_EQ(count_dirs(), before);
}

TEST(UtilTest, FreePortIsBindableAndWaitUntilTimesOut) {
  const uint16_t port = free_port();
  EXPECT_GT(port, 0);
  int calls = 0;
  EXPECT_FALSE(wait_until([&] { return ++calls < 0; }, 50ms));
  EXPECT_GT(calls, 2);
  EXPECT_TRUE(wait_until([&] { return ++calls > 5; }, 1s));
  EXPECT_EQ(tail_lines("a\nb\nc\n", 2), "b\nc\n");
  EXPECT_EQ(tail_lines("a\nb", 5), "a\nb");
}

TEST(CutoverProcessTest, WaitsForTheListenerAndReportsExitStatus) {
  const uint16_t port = free_port();
  CutoverProcess proc(FAKE_CUTOVER_BINARY, "listen_port: " + std::to_string(port) + "\n", port);
  EXPECT_GT(proc.pid(), 0);
  EXPECT_EQ(proc.port(), port);
  EXPECT_EQ(proc.conninfo(),
            "host=127.0.0.1 port=" + std::to_string(port) + " dbname=postgres user=postgres");
  EXPECT_TRUE(std::filesystem::exists(proc.config_path()));
  EXPECT_TRUE(wait_until([&] { return proc.log().find("listening on") != std::string::npos; }, 2s));
  EXPECT_GE(proc.rss_kb(), 8 * 1024);
  EXPECT_GE(proc.peak_rss_kb(), proc.rss_kb());
  EXPECT_EQ(proc.wait_exit(50ms), std::nullopt);

  proc.signal(SIGTERM);
  EXPECT_EQ(proc.wait_exit(5s), 0);
  EXPECT_NE(proc.log().find("stopping on SIGTERM"), std::string::npos);
  EXPECT_THROW(proc.rss_kb(), std::runtime_error);
  EXPECT_THROW(proc.signal(SIGTERM), std::logic_error);
}

TEST(CutoverProcessTest, KilledProcessReports128PlusSignal) {
  const uint16_t port = free_port();
  CutoverProcess proc(FAKE_CUTOVER_BINARY, "listen_port: " + std::to_string(port) + "\n", port);
  proc.signal(SIGKILL);
  EXPECT_EQ(proc.wait_exit(5s), 128 + SIGKILL);
}

TEST(CutoverProcessTest, ChildThatExitsEarlyFailsFastWithItsLog) {
  const uint16_t port = free_port();
  const auto started = std::chrono::steady_clock::now();
  try {
    CutoverProcess proc(FAKE_CUTOVER_BINARY, "exit_code: 3\n", port);
    FAIL() << "constructor returned for a child that exited";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("exited with status 3"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("exiting early with 3"), std::string::npos) << e.what();
  }
  EXPECT_LT(std::chrono::steady_clock::now() - started, 5s);
  EXPECT_THROW(CutoverProcess("/nonexistent/cutover", "", port), std::runtime_error);
}

}  // namespace
}  // namespace cutover::testing
