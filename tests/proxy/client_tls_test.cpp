// TLS between clients and cutover: every libpq sslmode through psql, encryption and channel
// binding as libpq sees them, certificates the client must refuse, tls.mode require, broken and
// stalled handshakes, and certificate reload on SIGHUP. Certificates come from the harness
// (TestCertificates); the password checks themselves are in client_auth_test.cpp.
#include <signal.h>

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "tests/harness/test_certificates.h"
#include "tests/proxy/proxy_fixture.h"

namespace cutover::testing {
namespace {

using namespace std::chrono_literals;

constexpr char kPassword[] = "tls-secret";

class ClientTlsTest : public ProxyTest {
 protected:
  static void SetUpTestSuite() {
    certs_ = std::make_unique<TestCertificates>();
    other_ca_ = std::make_unique<TestCertificates>();
  }
  static void TearDownTestSuite() {
    certs_.reset();
    other_ca_.reset();
  }
  void SetUp() override {}  // each test starts cutover with its own tls section

  // Starts cutover with the given tls.mode, certificate and key; postgres logs in with
  // kPassword.
  void start_tls(const std::string& mode, const std::filesystem::path& cert,
                 const std::filesystem::path& key, const std::string& more_yaml = "",
                 const std::string& more_auth = "") {
    auto users = files_.write("users.txt", scram_user_line("postgres", kPassword));
    start_proxy("tls: { mode: " + mode + ", cert_file: " + cert.string() +
                ", key_file: " + key.string() + " }\nauth: { users_file: " + users.string() +
                more_auth + " }\n" + more_yaml);
  }
  void start_tls(const std::string& mode = "allow", const std::string& more_yaml = "") {
    start_tls(mode, certs_->server_cert(), certs_->server_key(), more_yaml);
  }
  // postgres's conninfo with kPassword, `sslmode` and the test CA as sslrootcert.
  std::string with(const std::string& sslmode, const std::string& more = "") const {
    return proxy_->conninfo("postgres", "postgres", kPassword) + " sslmode=" + sslmode +
           " sslrootcert=" + certs_->ca_file().string() + (more.empty() ? "" : " " + more);
  }

  static std::unique_ptr<TestCertificates> certs_;
  static std::unique_ptr<TestCertificates> other_ca_;  // a CA cutover's certificates are not from
  ScratchDir files_;
};

std::unique_ptr<TestCertificates> ClientTlsTest::certs_;
std::unique_ptr<TestCertificates> ClientTlsTest::other_ca_;

// PQsslInUse of a fresh connection; throws (with libpq's message) if it cannot log in.
int ssl_in_use(const std::string& conninfo) { return PQsslInUse(connect(conninfo).get()); }

TEST_F(ClientTlsTest, EverySslmodeLogsInWithPsql) {
  start_tls("allow");
  // \conninfo is psql's own view of the connection: it names the TLS protocol when encrypted.
  auto psql = [&](const std::string& conninfo) {
    return run_command({"psql", "-X", "-At", "-c", "select 1", "-c", "\\conninfo", "-d", conninfo},
                       {{"PGCONNECT_TIMEOUT", "10"}});
  };
  struct Case {
    std::string sslmode;
    std::string host;
    bool encrypted;
  };
  // allow tries plaintext first, which tls.mode allow accepts.
  for (const Case& c : std::vector<Case>{{"disable", "127.0.0.1", false},
                                         {"allow", "127.0.0.1", false},
                                         {"prefer", "127.0.0.1", true},
                                         {"require", "127.0.0.1", true},
                                         {"verify-ca", "127.0.0.1", true},
                                         {"verify-full", "127.0.0.1", true},
                                         {"verify-full", "localhost", true}}) {
    SCOPED_TRACE(c.sslmode + " to " + c.host);
    CommandResult run = psql(with(c.sslmode, "host=" + c.host));
    EXPECT_EQ(run.status, 0) << run.err;
    EXPECT_TRUE(run.out.starts_with("1\n")) << run.out;
    EXPECT_EQ(run.out.find("SSL connection (protocol: TLSv1.3") != std::string::npos, c.encrypted)
        << run.out;
  }
}

TEST_F(ClientTlsTest, LibpqSeesEncryptionAndChannelBindingWorks) {
  start_tls("allow");
  EXPECT_EQ(ssl_in_use(with("disable")), 0);
  EXPECT_EQ(ssl_in_use(with("require")), 1);
  EXPECT_EQ(ssl_in_use(with("verify-ca")), 1);
  EXPECT_EQ(ssl_in_use(with("verify-full")), 1);
  // SCRAM-SHA-256-PLUS is offered on TLS, so libpq can insist on binding to the certificate.
  Connection bound = connect(with("verify-full", "channel_binding=require"));
  EXPECT_EQ(PQsslInUse(bound.get()), 1);
  EXPECT_EQ(bound.query_value("select current_user"), "postgres");
  // Without TLS there is nothing to bind to, and libpq refuses to go on.
  std::string error = login_error(with("disable", "channel_binding=require"));
  EXPECT_NE(error.find("channel binding required, but SSL not in use"), std::string::npos) << error;
}

TEST_F(ClientTlsTest, ClientsRefuseACertificateForAnotherNameOrFromAnotherCa) {
  start_tls("allow", certs_->wrong_cert(), certs_->wrong_key());
  std::string error = login_error(with("verify-full"));
  EXPECT_NE(error.find("server certificate for \"wrong.example\" (and 1 other name) does not "
                       "match host name \"127.0.0.1\""),
            std::string::npos)
      << error;
  // The certificate is from the right CA: only the name is wrong.
  EXPECT_EQ(ssl_in_use(with("verify-ca")), 1);

  start_tls("allow");
  std::string conninfo = proxy_->conninfo("postgres", "postgres", kPassword) +
                         " sslmode=verify-ca sslrootcert=" + other_ca_->ca_file().string();
  error = login_error(conninfo);
  EXPECT_NE(error.find("certificate verify failed"), std::string::npos) << error;
  EXPECT_TRUE(proxy_->running());
}

TEST_F(ClientTlsTest, RequireModeRefusesPlaintextWith28000) {
  // Even from a trusted address: trust waives the password, never the encryption.
  start_tls("require", certs_->server_cert(), certs_->server_key(), "",
            ", trust_addresses: [127.0.0.1/32]");
  std::string error = login_error(with("disable"));
  EXPECT_EQ(server_part(error),
            "FATAL:  cutover requires an encrypted connection (tls.mode is require); connect "
            "with sslmode=require or stricter\n");
  RawClient raw(proxy_->port());
  raw.send(startup_bytes());
  EXPECT_EQ(first_error_sqlstate(raw.read_until_closed()), "28000");
  EXPECT_TRUE(raw.closed());
  EXPECT_EQ(ssl_in_use(proxy_->conninfo() + " sslmode=require"), 1);  // trusted: no password
  EXPECT_EQ(ssl_in_use(with("verify-full")), 1);
  // allow starts in plaintext and, refused, tries again with TLS.
  EXPECT_EQ(ssl_in_use(with("allow")), 1);
}

TEST_F(ClientTlsTest, DisableModeDeclinesSslRequests) {
  start_tls("disable");
  RawClient raw(proxy_->port());
  raw.send(ssl_request_bytes());
  EXPECT_EQ(raw.read(1), "N");
  raw.send(startup_bytes());  // the client goes on in plaintext
  auto request = read_message(raw);
  ASSERT_TRUE(request);
  EXPECT_EQ(auth_code(*request), 10);
  EXPECT_EQ(request->body.substr(4), std::string("SCRAM-SHA-256\0\0", 15));
  EXPECT_EQ(ssl_in_use(with("prefer")), 0);
  EXPECT_NE(login_error(with("require")).find("server does not support SSL, but SSL was required"),
            std::string::npos);
}

TEST_F(ClientTlsTest, BrokenHandshakesDoNotDisturbOtherSessions) {
  start_tls("allow");
  Connection busy = connect(with("verify-full"));
  ASSERT_EQ(busy.query_value("select 'before'"), "before");
  for (int i = 0; i < 20; ++i) {
    RawClient broken(proxy_->port());
    broken.send(ssl_request_bytes());
    ASSERT_EQ(broken.read(1), "S");
    if (i % 2 == 0) {
      // Not TLS at all: cutover gives up on the connection.
      broken.send("GET / HTTP/1.1\r\nHost: cutover\r\n\r\n");
      broken.read_until_closed();
      EXPECT_TRUE(broken.closed());
    } else {
      // The start of a ClientHello record, then the client goes away.
      broken.send(std::string("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", 11));
    }
  }
  auto failures = [&] {
    std::string log = proxy_->log();
    size_t count = 0;
    for (size_t at = log.find("client_tls_failed"); at != std::string::npos;
         at = log.find("client_tls_failed", at + 1)) {
      ++count;
    }
    return count;
  };
  EXPECT_TRUE(wait_until([&] { return failures() == 20; }, 5s)) << failures();
  EXPECT_EQ(busy.query_value("select 'after'"), "after");
  EXPECT_EQ(ssl_in_use(with("verify-full")), 1);
  EXPECT_TRUE(proxy_->running());
}

TEST_F(ClientTlsTest, HandshakeStalledByTheClientIsTimedOut) {
  start_tls("allow", "timeouts: { client_startup_ms: 300 }\n");
  auto started = std::chrono::steady_clock::now();
  RawClient stalled(proxy_->port());
  stalled.send(ssl_request_bytes());
  ASSERT_EQ(stalled.read(1), "S");
  // Others log in while it holds its handshake open.
  EXPECT_EQ(ssl_in_use(with("verify-full")), 1);
  stalled.read_until_closed(5s);
  auto elapsed = std::chrono::steady_clock::now() - started;
  EXPECT_TRUE(stalled.closed());
  EXPECT_GE(elapsed, 300ms);
  EXPECT_LT(elapsed, 3s);
  EXPECT_TRUE(proxy_->running());
}

TEST_F(ClientTlsTest, SighupReloadsTheCertificate) {
  auto cert = files_.write("cutover.crt", read_file(certs_->server_cert()));
  auto key = files_.write("cutover.key", read_file(certs_->server_key()));
  start_tls("allow", cert, key);
  Connection before = connect(with("verify-full"));
  ASSERT_EQ(PQsslInUse(before.get()), 1);

  files_.write("cutover.crt", read_file(certs_->wrong_cert()));
  files_.write("cutover.key", read_file(certs_->wrong_key()));
  proxy_->signal(SIGHUP);
  EXPECT_TRUE(wait_until(
      [&] { return login_error(with("verify-full")).find("wrong.example") != std::string::npos; },
      5s));
  EXPECT_NE(proxy_->log().find("\"reloaded\""), std::string::npos);
  EXPECT_EQ(ssl_in_use(with("verify-ca")), 1);  // the new certificate is served, and works
  EXPECT_EQ(before.query_value("select 'kept'"), "kept");

  // A key that does not match the certificate is refused; the wrong.example pair stays.
  files_.write("cutover.key", read_file(certs_->server_key()));
  proxy_->signal(SIGHUP);
  EXPECT_TRUE(
      wait_until([&] { return proxy_->log().find("reload_failed") != std::string::npos; }, 5s));
  EXPECT_EQ(ssl_in_use(with("verify-ca")), 1);
  EXPECT_NE(login_error(with("verify-full")).find("wrong.example"), std::string::npos);
}

TEST_F(ClientTlsTest, MissingCertificateFileStopsStartUp) {
  std::string missing = (certs_->dir() / "missing.crt").string();
  auto users = files_.write("users.txt", scram_user_line("postgres", kPassword));
  auto config =
      files_.write("cutover.yaml", "listen: { port: " + std::to_string(free_port()) +
                                       " }\ntls: { mode: require, cert_file: " + missing +
                                       ", key_file: " + certs_->server_key().string() +
                                       " }\nauth: { users_file: " + users.string() + " }\n");
  CommandResult run = run_command({CUTOVER_BINARY, "run", "--config", config.string()});
  EXPECT_EQ(run.status, 1);
  EXPECT_NE(run.err.find("tls.cert_file " + missing), std::string::npos) << run.err;
}

}  // namespace
}  // namespace cutover::testing
