// cutover's own login to the database: SCRAM, md5 and cleartext passwords from password files,
// every sslmode against a TLS-enabled cluster (certificates from the harness), verify-full and
// verify-ca refusing the wrong server, auth_query, and SCRAM pass-through of the client's keys.
// Runs against its own scram-sha-256 + ssl=on cluster (the shared ones trust everybody).
#include <libpq-fe.h>

#include <cstdint>
#include <fstream>
#include <memory>
#include <stdexcept>

#include "protocol/scram.h"
#include "tests/harness/test_certificates.h"
#include "tests/proxy/proxy_fixture.h"

namespace cutover::testing {
namespace {

using namespace std::chrono_literals;

constexpr char kSuperPassword[] = "super-secret";
constexpr char kAuthQuery[] = "SELECT rolname, rolpassword FROM pg_authid WHERE rolname = $1";

class BackendLoginTest : public ProxyTest {
 protected:
  // alice: SCRAM. md5_user: an MD5 secret and an md5 pg_hba line. clear_user: a pg_hba
  // "password" line, so the server asks for the password in clear text.
  static void SetUpTestSuite() {
    certs_ = std::make_unique<TestCertificates>();
    auto cluster = std::make_unique<PgCluster>(PgCluster::Options{.name = "login",
                                                                  .auth = "scram-sha-256",
                                                                  .password = kSuperPassword,
                                                                  .ssl_cert_dir = certs_->dir()});
    cluster->query(
        "create role alice login password 'alice-secret';"
        "create role clear_user login password 'clear-secret';"
        "set password_encryption = 'md5';"
        "create role md5_user login password 'md5-secret'");
    // pg_hba.conf is read top down, first match wins: our lines go before initdb's.
    auto hba_path = cluster->dir() / "data" / "pg_hba.conf";
    std::string hba = read_file(hba_path);
    {
      std::ofstream out(hba_path, std::ios::trunc);  // keeps the file's owner
      out << "host all md5_user 127.0.0.1/32 md5\n"
             "host all clear_user 127.0.0.1/32 password\n"
          << hba;
      if (hba.empty() || !out) throw std::runtime_error("cannot rewrite " + hba_path.string());
    }
    cluster->query("select pg_reload_conf()");
    if (!wait_until(
            [&] {
              return login_error(cluster->conninfo("postgres", "md5_user", "md5-secret")) == "";
            },
            10s)) {
      throw std::runtime_error("the md5 pg_hba line never took effect");
    }
    cluster_ = std::move(cluster);
    files_ = make_temp_dir("cutover-login-");
    for (auto [name, password] : {std::pair{"alice", "alice-secret"},
                                  {"md5_user", "md5-secret"},
                                  {"clear_user", "clear-secret"},
                                  {"postgres", kSuperPassword},
                                  {"wrong", "not-the-password"}}) {
      std::ofstream(files_ / (std::string(name) + ".pw")) << password << "\n";
    }
  }
  static void TearDownTestSuite() {
    cluster_.reset();
    certs_.reset();
    if (!files_.empty()) std::filesystem::remove_all(files_);
  }

  void SetUp() override { ASSERT_NE(cluster_, nullptr) << "the suite's cluster did not start"; }
  uint16_t backend_port() const override { return cluster_->port(); }
  std::string backend_fields() const override { return fields_; }

  // Restarts cutover with these backends.old fields and extra top-level YAML.
  void start_with(const std::string& fields, const std::string& extra_yaml = "") {
    fields_ = fields;
    start_proxy(extra_yaml);
  }
  static std::string password_file(const std::string& name) {
    return (files_ / (name + ".pw")).string();
  }
  static std::string as_user(const std::string& user, const std::string& sslmode = "disable") {
    return "user: " + user + ", password_file: " + password_file(user) + ", sslmode: " + sslmode;
  }
  static std::string ca() { return certs_->ca_file().string(); }
  // A users file that knows alice with her real password.
  static std::string users_file() {
    auto path = files_ / "users.txt";
    std::ofstream(path) << scram_user_line("alice", "alice-secret");
    return path.string();
  }

  // Whether the session cutover opened for a client is encrypted, as the server sees it.
  std::string backend_ssl() {
    return connect_proxy().query_value("select ssl from pg_stat_ssl where pid = pg_backend_pid()");
  }

  static std::unique_ptr<TestCertificates> certs_;
  static std::unique_ptr<PgCluster> cluster_;
  static std::filesystem::path files_;
  std::string fields_;
};

std::unique_ptr<TestCertificates> BackendLoginTest::certs_;
std::unique_ptr<PgCluster> BackendLoginTest::cluster_;
std::filesystem::path BackendLoginTest::files_;

TEST_F(BackendLoginTest, EachPasswordMethodLogsInAsTheConfiguredUser) {
  for (std::string user : {"alice", "md5_user", "clear_user"}) {
    start_with(as_user(user));
    // The client's own name does not matter: cutover logs in as backends.old.user.
    EXPECT_EQ(connect(proxy_->conninfo("postgres", "someone")).query_value("select current_user"),
              user);
  }
}

TEST_F(BackendLoginTest, EverySslModeGivesTheEncryptionItPromises) {
  const std::vector<std::pair<std::string, std::string>> modes = {
      {"disable", "f"},
      {"prefer", "t"},
      {"require", "t"},
      {"verify-ca, sslrootcert: " + ca(), "t"},
      {"verify-full, sslrootcert: " + ca(), "t"},
      {"verify-full, sslrootcert: " + ca() + ", sslservername: localhost", "t"}};
  for (const auto& [mode, encrypted] : modes) {
    start_with(as_user("alice", mode));
    EXPECT_EQ(backend_ssl(), encrypted) << "sslmode " << mode;
  }
}

TEST_F(BackendLoginTest, VerifyFullRefusesACertificateForAnotherName) {
  start_with(as_user("alice", "verify-full, sslrootcert: " + ca() + ", sslservername: db.example"));
  RawClient client(proxy_->port());
  client.send(startup_bytes());
  std::string reply = client.read_until_closed();
  EXPECT_EQ(first_error_sqlstate(reply), "08006");
  EXPECT_NE(reply.find("TLS handshake with the old database failed"), std::string::npos) << reply;
  EXPECT_NE(proxy_->log().find("certificate verify failed"), std::string::npos);
}

TEST_F(BackendLoginTest, VerifyCaRefusesAServerFromAnotherCa) {
  TestCertificates other;
  start_with(as_user("alice", "verify-ca, sslrootcert: " + other.ca_file().string()));
  std::string error = login_error(conninfo());
  EXPECT_NE(error.find("TLS handshake with the old database failed"), std::string::npos) << error;
  // Without sslrootcert, require encrypts but checks nothing: the same server is accepted.
  start_with(as_user("alice", "require"));
  EXPECT_EQ(backend_ssl(), "t");
}

TEST_F(BackendLoginTest, RequireRefusesADatabaseWithoutTls) {
  // The shared old cluster has no TLS; prefer falls back to plaintext, require does not.
  proxy_.reset();
  uint16_t port = free_port();
  auto run = [&](const std::string& sslmode) {
    proxy_ = std::make_unique<CutoverProcess>(
        CUTOVER_BINARY,
        "listen: { port: " + std::to_string(port) + " }\n" + kTrustLocal +
            "backends: { old: { port: " + std::to_string(old_db().port()) +
            ", sslmode: " + sslmode + " } }\n",
        port);
  };
  run("prefer");
  EXPECT_EQ(connect_proxy().query_value("select 'plaintext'"), "plaintext");
  proxy_.reset();
  run("require");
  std::string error = login_error(conninfo());
  EXPECT_NE(error.find("the old database does not accept TLS (sslmode require)"), std::string::npos)
      << error;
}

TEST_F(BackendLoginTest, WrongBackendPasswordReachesTheClientAsTheServerSaidIt) {
  start_with("user: alice, password_file: " + password_file("wrong") + ", sslmode: require");
  std::string error = login_error(conninfo());
  EXPECT_NE(error.find("password authentication failed for user \"alice\""), std::string::npos)
      << error;
  EXPECT_NE(proxy_->log().find("backend_login_failed"), std::string::npos);
}

TEST_F(BackendLoginTest, AuthQueryChecksClientsAgainstOldsCatalog) {
  start_with(as_user("postgres", "require"),
             std::string("auth: { method: scram-sha-256, auth_query: \"") + kAuthQuery +
                 "\", query_user: postgres, query_password_file: " + password_file("postgres") +
                 " }\n");
  // alice proves her own password to cutover; cutover then works as postgres.
  EXPECT_EQ(connect(proxy_->conninfo("postgres", "alice", "alice-secret"))
                .query_value("select current_user"),
            "postgres");
  std::string wrong = login_error(proxy_->conninfo("postgres", "alice", "nope"));
  std::string unknown = login_error(proxy_->conninfo("postgres", "nobody", "nope"));
  EXPECT_NE(wrong.find("FATAL:  password authentication failed for user \"alice\""),
            std::string::npos)
      << wrong;
  EXPECT_NE(unknown.find("FATAL:  password authentication failed for user \"nobody\""),
            std::string::npos)
      << unknown;
}

TEST_F(BackendLoginTest, PassthroughLogsInAsTheClientWithItsOwnKeys) {
  start_with("sslmode: verify-full, sslrootcert: " + ca(),
             std::string("auth: { method: passthrough, auth_query: \"") + kAuthQuery +
                 "\", query_user: postgres, query_password_file: " + password_file("postgres") +
                 " }\n");
  auto alice = connect(proxy_->conninfo("postgres", "alice", "alice-secret"));
  EXPECT_EQ(alice.query_value("select current_user"), "alice");
  EXPECT_EQ(alice.query_value("select ssl from pg_stat_ssl where pid = pg_backend_pid()"), "t");
  std::string wrong = login_error(proxy_->conninfo("postgres", "alice", "nope"));
  EXPECT_NE(wrong.find("password authentication failed for user \"alice\""), std::string::npos)
      << wrong;
}

TEST_F(BackendLoginTest, PassthroughNeedsTheSameVerifierOnBothSides) {
  // A users-file verifier for the right password but another salt: the client passes
  // cutover's check, and the database (which has its own salt) cannot take the keys.
  auto verifier = protocol::scram::make_verifier("alice-secret", "a different salt", 4096);
  ASSERT_TRUE(verifier);
  auto users = files_ / "passthrough-users.txt";
  std::ofstream(users) << "\"alice\" \"" << protocol::scram::format_verifier(*verifier) << "\"\n";
  start_with("sslmode: require",
             "auth: { method: passthrough, users_file: " + users.string() + " }\n");
  std::string error = login_error(proxy_->conninfo("postgres", "alice", "alice-secret"));
  EXPECT_NE(error.find("SCRAM verifier for \"alice\" differs"), std::string::npos) << error;
}

TEST_F(BackendLoginTest, ConfiguredDatabaseIsTheOnlyOneClientsMayAskFor) {
  start_with(as_user("alice", "require") + ", database: postgres",
             "auth: { method: scram-sha-256, users_file: " + users_file() + " }\n");
  EXPECT_EQ(connect(proxy_->conninfo("postgres", "alice", "alice-secret"))
                .query_value("select current_database()"),
            "postgres");
  // Another name is refused as PostgreSQL refuses a missing database, and only after the
  // password was checked, so it tells strangers nothing.
  EXPECT_EQ(server_part(login_error(proxy_->conninfo("other", "alice", "alice-secret"))),
            "FATAL:  database \"other\" does not exist\n");
  EXPECT_EQ(server_part(login_error(proxy_->conninfo("other", "alice", "wrong"))),
            "FATAL:  password authentication failed for user \"alice\"\n");
}

// check-backends logs in to both databases as sessions will: here both over TLS with
// verify-full, then with new expecting another name on its certificate.
TEST_F(BackendLoginTest, CheckBackendsVerifiesBothDatabases) {
  PgCluster other({.name = "login-new",
                   .auth = "scram-sha-256",
                   .password = kSuperPassword,
                   .ssl_cert_dir = certs_->dir()});
  auto check = [&](const std::string& new_extra) {
    auto config = files_ / "check-backends.yaml";
    std::ofstream(config) << kTrustLocal << "backends:\n  old: { port: " << cluster_->port() << ", "
                          << as_user("postgres", "verify-full, sslrootcert: " + ca())
                          << " }\n  new: { port: " << other.port() << ", "
                          << as_user("postgres", "verify-full, sslrootcert: " + ca() + new_extra)
                          << " }\n";
    return run_command({CUTOVER_BINARY, "check-backends", "--config", config.string()});
  };
  CommandResult good = check("");
  EXPECT_EQ(good.status, 0) << good.out << good.err;
  EXPECT_NE(good.out.find("old 127.0.0.1:" + std::to_string(cluster_->port()) +
                          " ok user=postgres database=postgres server_version=15"),
            std::string::npos)
      << good.out;
  EXPECT_NE(good.out.find("new 127.0.0.1:" + std::to_string(other.port()) +
                          " ok user=postgres database=postgres server_version=15"),
            std::string::npos)
      << good.out;
  EXPECT_NE(good.out.find("tls=TLSv1.3\nnew"), std::string::npos) << good.out;
  EXPECT_TRUE(good.out.ends_with("tls=TLSv1.3\n")) << good.out;

  CommandResult bad = check(", sslservername: db.example");
  EXPECT_EQ(bad.status, 1);
  EXPECT_NE(bad.out.find("old 127.0.0.1:" + std::to_string(cluster_->port()) + " ok"),
            std::string::npos)
      << bad.out;
  EXPECT_NE(bad.out.find("new 127.0.0.1:" + std::to_string(other.port()) +
                         " FAILED 08006: TLS handshake with the new database failed: "
                         "certificate verify failed"),
            std::string::npos)
      << bad.out;
}

}  // namespace
}  // namespace cutover::testing
