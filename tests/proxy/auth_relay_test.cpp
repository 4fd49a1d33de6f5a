// The backend's authentication exchange relayed through cutover: SCRAM, MD5 and cleartext
// passwords right and wrong, unknown users, and a client that stalls at the password prompt.
// Runs against its own scram-sha-256 cluster (the shared ones trust everybody).
#include <libpq-fe.h>

#include <cstdint>
#include <fstream>
#include <memory>
#include <optional>
#include <stdexcept>

#include "protocol/backend.h"
#include "protocol/frontend.h"
#include "protocol/startup.h"
#include "tests/proxy/proxy_fixture.h"

namespace cutover::testing {
namespace {

using namespace std::chrono_literals;

constexpr char kSuperPassword[] = "super-secret";

struct Message {
  char type;
  std::string body;
};

// Reads exactly one backend message; nullopt if the peer closed or the timeout passed first.
std::optional<Message> read_message(RawClient& client, std::chrono::milliseconds timeout = 5s) {
  std::string header = client.read(5, timeout);
  if (header.size() < 5) return std::nullopt;
  uint32_t length = 0;
  for (int i = 1; i < 5; ++i) length = length << 8 | static_cast<unsigned char>(header[i]);
  if (length < 4) return std::nullopt;
  std::string body = client.read(length - 4, timeout);
  if (body.size() != length - 4) return std::nullopt;
  return Message{header[0], std::move(body)};
}

// The request code of an 'R' message: 0 ok, 3 cleartext, 5 MD5, 10 SASL, ...
int auth_code(const Message& m) {
  if (m.type != 'R' || m.body.size() < 4) return -1;
  int code = 0;
  for (int i = 0; i < 4; ++i) code = code << 8 | static_cast<unsigned char>(m.body[i]);
  return code;
}

std::string password_message(const std::string& password) {
  std::string out;
  protocol::encode(protocol::PasswordMessage{password}, out);
  return out;
}

// PQerrorMessage of a failed login, or "" if the login succeeded.
std::string login_error(const std::string& conninfo) {
  PGconn* conn = PQconnectdb(conninfo.c_str());
  std::string error = PQstatus(conn) == CONNECTION_OK ? "" : PQerrorMessage(conn);
  PQfinish(conn);
  return error;
}

// The server's part of a libpq login error ("FATAL:  ..."), without libpq's "connection to
// server at ..., port N failed: " prefix, which differs between proxy and direct.
std::string server_part(const std::string& error) {
  auto at = error.find("FATAL:");
  return at == std::string::npos ? error : error.substr(at);
}

class AuthRelayTest : public ProxyTest {
 protected:
  // alice: SCRAM. md5_user: an MD5 secret and an md5 pg_hba line. clear_user: a pg_hba
  // "password" line, so the server asks for the password in clear text.
  static void SetUpTestSuite() {
    auto cluster = std::make_unique<PgCluster>(
        PgCluster::Options{.name = "auth", .auth = "scram-sha-256", .password = kSuperPassword});
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
    // Before the reload md5_user meets the scram-sha-256 line, which its MD5 secret cannot pass.
    if (!wait_until(
            [&] {
              return login_error(cluster->conninfo("postgres", "md5_user", "md5-secret")) == "";
            },
            10s)) {
      throw std::runtime_error("the md5 pg_hba line never took effect");
    }
    cluster_ = std::move(cluster);
  }
  static void TearDownTestSuite() { cluster_.reset(); }

  void SetUp() override {
    ASSERT_NE(cluster_, nullptr) << "the suite's cluster did not start";
    ProxyTest::SetUp();
  }
  uint16_t backend_port() const override { return cluster_->port(); }

  std::string via_proxy(const std::string& user, const std::string& password) const {
    return proxy_->conninfo("postgres", user, password);
  }

  static std::unique_ptr<PgCluster> cluster_;
};

std::unique_ptr<PgCluster> AuthRelayTest::cluster_;

TEST_F(AuthRelayTest, RightPasswordsLogIn) {
  EXPECT_EQ(connect(via_proxy("alice", "alice-secret")).query_value("select current_user"),
            "alice");
  EXPECT_EQ(connect(via_proxy("postgres", kSuperPassword)).query_value("select current_user"),
            "postgres");
  EXPECT_EQ(connect(via_proxy("clear_user", "clear-secret")).query_value("select current_user"),
            "clear_user");
}

TEST_F(AuthRelayTest, WrongPasswordFailsWithLibpqsMessage) {
  std::string error = login_error(via_proxy("alice", "not-her-password"));
  EXPECT_NE(error.find("password authentication failed for user \"alice\""), std::string::npos)
      << error;
  // The failure ends only that login.
  EXPECT_EQ(connect(via_proxy("alice", "alice-secret")).query_value("select 'still open'"),
            "still open");
}

TEST_F(AuthRelayTest, Md5RoleLogsIn) {
  // The server really asks this role for MD5 (code 5), not SCRAM.
  RawClient probe(proxy_->port());
  probe.send(startup_bytes("md5_user"));
  auto request = read_message(probe);
  ASSERT_TRUE(request);
  EXPECT_EQ(auth_code(*request), 5);

  EXPECT_EQ(connect(via_proxy("md5_user", "md5-secret")).query_value("select current_user"),
            "md5_user");
  std::string error = login_error(via_proxy("md5_user", "wrong"));
  EXPECT_NE(error.find("password authentication failed for user \"md5_user\""), std::string::npos)
      << error;
}

TEST_F(AuthRelayTest, ClientSilentAtThePasswordPromptIsTimedOut) {
  start_proxy("timeouts: { client_startup_ms: 300 }\n");
  auto started = std::chrono::steady_clock::now();
  RawClient silent(proxy_->port());
  silent.send(startup_bytes("alice"));
  auto request = read_message(silent);
  ASSERT_TRUE(request);
  EXPECT_EQ(auth_code(*request), 10);  // AuthenticationSASL
  EXPECT_NE(request->body.find("SCRAM-SHA-256"), std::string::npos);
  // Others log in while it keeps the prompt waiting.
  EXPECT_EQ(connect(via_proxy("alice", "alice-secret")).query_value("select current_user"),
            "alice");

  std::string rest = silent.read_until_closed(5s);
  auto elapsed = std::chrono::steady_clock::now() - started;
  EXPECT_TRUE(silent.closed());
  EXPECT_EQ(first_error_sqlstate(rest), "08P01");
  EXPECT_NE(rest.find("canceling authentication due to timeout"), std::string::npos);
  EXPECT_GE(elapsed, 300ms);
  EXPECT_LT(elapsed, 3s);
  EXPECT_TRUE(proxy_->running());
  EXPECT_EQ(connect(via_proxy("alice", "alice-secret")).query_value("select current_user"),
            "alice");
}

TEST_F(AuthRelayTest, UnknownUserIsRefusedWithTheServersMessage) {
  std::string through_proxy = login_error(via_proxy("nobody", "whatever"));
  std::string direct = login_error(cluster_->conninfo("postgres", "nobody", "whatever"));
  // Under SCRAM the server does not reveal that the role is missing.
  EXPECT_NE(through_proxy.find("password authentication failed for user \"nobody\""),
            std::string::npos)
      << through_proxy;
  EXPECT_EQ(server_part(through_proxy), server_part(direct));
}

TEST_F(AuthRelayTest, WrongCleartextPasswordGets28P01) {
  RawClient wrong(proxy_->port());
  wrong.send(startup_bytes("clear_user"));
  auto request = read_message(wrong);
  ASSERT_TRUE(request);
  ASSERT_EQ(auth_code(*request), 3);  // AuthenticationCleartextPassword
  wrong.send(password_message("not-the-password"));
  std::string reply = wrong.read_until_closed();
  EXPECT_TRUE(wrong.closed());
  EXPECT_EQ(first_error_sqlstate(reply), "28P01");
  EXPECT_NE(reply.find("password authentication failed for user \"clear_user\""),
            std::string::npos);

  // The same exchange with the right password gets AuthenticationOk, a key, ReadyForQuery.
  RawClient right(proxy_->port());
  right.send(startup_bytes("clear_user"));
  request = read_message(right);
  ASSERT_TRUE(request);
  ASSERT_EQ(auth_code(*request), 3);
  right.send(password_message("clear-secret"));
  std::string types;
  while (auto m = read_message(right)) {
    if (types.empty()) {
      EXPECT_EQ(auth_code(*m), 0);  // AuthenticationOk
    }
    types += m->type;
    if (m->type == 'Z') break;
  }
  ASSERT_FALSE(types.empty());
  EXPECT_EQ(types.front(), 'R');
  EXPECT_NE(types.find('K'), std::string::npos);
  EXPECT_EQ(types.back(), 'Z');
}

}  // namespace
}  // namespace cutover::testing
