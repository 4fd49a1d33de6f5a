// cutover authenticating clients itself, in plaintext: SCRAM and md5 secrets from the users
// file, unknown users, trusted networks, a client stalled mid-exchange, SIGHUP reloads of the
// users file, and plain passwords refused at start-up. TLS and channel binding are in
// client_tls_test.cpp. The shared old cluster trusts everybody, so cutover's own login to it
// needs no password and uses the client's user name.
#include <signal.h>

#include <string>
#include <vector>

#include "protocol/backend.h"
#include "protocol/frontend.h"
#include "protocol/md5_auth.h"
#include "protocol/scram_client.h"
#include "tests/proxy/proxy_fixture.h"

namespace cutover::testing {
namespace {

using namespace std::chrono_literals;

std::string auth_failed(const std::string& user) {
  return "FATAL:  password authentication failed for user \"" + user + "\"\n";
}

// What a raw SCRAM-SHA-256 login saw: the server-first-message, and everything the server sent
// after the client's proof (AuthenticationSASLFinal ... ReadyForQuery, or an ErrorResponse).
struct ScramLogin {
  std::string server_first;
  std::string reply;
};

// Appends a message as it was on the wire: type, length word, body.
void append_raw(std::string& out, const RawMessage& m) {
  out.push_back(m.type);
  auto length = static_cast<uint32_t>(m.body.size() + 4);
  for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<char>(length >> shift));
  out.append(m.body);
}

// Runs a plaintext SCRAM-SHA-256 login over a raw socket, as libpq would.
ScramLogin raw_scram_login(RawClient& client, const std::string& user,
                           const std::string& password) {
  ScramLogin login;
  client.send(startup_bytes(user));
  auto request = read_message(client);
  if (!request || auth_code(*request) != 10) return login;
  auto offer = protocol::decode_backend('R', request->body);
  if (!offer) return login;
  protocol::scram::ClientCredentials credentials;
  credentials.password = password;
  protocol::scram::ClientExchange exchange(credentials, "rawclientnonce0123456789");
  auto mechanism =
      exchange.choose_mechanism(std::get<protocol::AuthenticationSASL>(*offer).mechanisms);
  if (!mechanism) return login;
  std::string bytes;
  protocol::encode(protocol::SASLInitialResponse{*mechanism, exchange.client_first()}, bytes);
  client.send(bytes);
  auto server_first = read_message(client);
  if (!server_first || auth_code(*server_first) != 11) return login;
  login.server_first = server_first->body.substr(4);
  auto client_final = exchange.on_server_first(login.server_first);
  if (!client_final) return login;
  bytes.clear();
  protocol::encode(protocol::SASLResponse{*client_final}, bytes);
  client.send(bytes);
  while (auto m = read_message(client)) {
    append_raw(login.reply, *m);
    if (m->type == 'Z') break;
  }
  return login;
}

// The "s=" (salt) and "i=" (iterations) attributes of a server-first-message.
std::string salt_and_iterations(const std::string& server_first) {
  auto at = server_first.find(",s=");
  return at == std::string::npos ? "" : server_first.substr(at + 1);
}

class ClientAuthTest : public ProxyTest {
 protected:
  // Roles on old for cutover's own logins, which use the client's user name; created once per
  // binary, since roles outlive a test.
  static void SetUpTestSuite() {
    for (const char* role : {"ca_alice", "ca_md5", "ca_a", "ca_b"}) {
      TwoClusters::old_db().query(std::string("do $$ begin if not exists (select from pg_roles "
                                              "where rolname = '") +
                                  role + "') then create role " + role + " login; end if; end $$");
    }
  }
  void SetUp() override {}  // each test starts cutover with its own auth section

  // Starts cutover with a users file holding `lines` and `auth_fields` in its auth section.
  void start_with_users(const std::string& lines,
                        const std::string& auth_fields = "method: scram-sha-256",
                        const std::string& more_yaml = "") {
    users_file_ = files_.write("users.txt", lines).string();
    start_proxy("auth: { " + auth_fields + ", users_file: " + users_file_ + " }\n" + more_yaml);
  }
  std::string as(const std::string& user, const std::string& password = "") const {
    return proxy_->conninfo("postgres", user, password);
  }

  ScratchDir files_;
  std::string users_file_;
};

TEST_F(ClientAuthTest, ScramUserLogsInAndAWrongPasswordGets28P01) {
  start_with_users(scram_user_line("ca_alice", "alice-pw") + md5_user_line("ca_md5", "md5-pw"));
  EXPECT_EQ(connect(as("ca_alice", "alice-pw")).query_value("select current_user"), "ca_alice");
  EXPECT_EQ(server_part(login_error(as("ca_alice", "not-her-pw"))), auth_failed("ca_alice"));
  // No password at all: libpq cannot answer the SCRAM request.
  EXPECT_NE(login_error(as("ca_alice")).find("no password supplied"), std::string::npos);
  // An md5 secret cannot do SCRAM: under scram-sha-256 it fails like a wrong password.
  EXPECT_EQ(server_part(login_error(as("ca_md5", "md5-pw"))), auth_failed("ca_md5"));

  RawClient wrong(proxy_->port());
  ScramLogin login = raw_scram_login(wrong, "ca_alice", "not-her-pw");
  EXPECT_EQ(first_error_sqlstate(login.reply), "28P01");
  EXPECT_TRUE(wrong.read_until_closed().empty());
  EXPECT_TRUE(wrong.closed());
  RawClient right(proxy_->port());
  login = raw_scram_login(right, "ca_alice", "alice-pw");
  ASSERT_FALSE(login.reply.empty());
  EXPECT_EQ(login.reply.front(), 'R');  // AuthenticationSASLFinal
  EXPECT_EQ(login.reply.back(), 'I');   // ReadyForQuery, idle
  EXPECT_EQ(first_error_sqlstate(login.reply), "");
}

TEST_F(ClientAuthTest, UnknownUserFailsExactlyLikeAWrongPassword) {
  start_with_users(scram_user_line("ca_alice", "alice-pw"));
  std::string unknown = server_part(login_error(as("ca_nobody", "whatever")));
  EXPECT_EQ(unknown, auth_failed("ca_nobody"));
  // The same words as a wrong password for a user who exists, name aside.
  std::string wrong = server_part(login_error(as("ca_alice", "whatever")));
  EXPECT_EQ(wrong, auth_failed("ca_alice"));
  // And the same words as PostgreSQL itself under scram-sha-256.
  PgCluster reference({.name = "scram-ref", .auth = "scram-sha-256"});
  EXPECT_EQ(server_part(login_error(reference.conninfo("postgres", "ca_nobody", "whatever"))),
            unknown);

  // On the wire too: a full exchange with a salt of the same shape, the same 28P01, and the same
  // salt on every attempt, so repeating a name reveals nothing either.
  RawClient first(proxy_->port());
  ScramLogin mock = raw_scram_login(first, "ca_nobody", "whatever");
  RawClient second(proxy_->port());
  ScramLogin mock_again = raw_scram_login(second, "ca_nobody", "other");
  RawClient known(proxy_->port());
  ScramLogin real = raw_scram_login(known, "ca_alice", "whatever");
  EXPECT_EQ(first_error_sqlstate(mock.reply), "28P01");
  EXPECT_EQ(first_error_sqlstate(real.reply), "28P01");
  EXPECT_EQ(salt_and_iterations(mock.server_first), salt_and_iterations(mock_again.server_first));
  std::string mock_salt = salt_and_iterations(mock.server_first);
  std::string real_salt = salt_and_iterations(real.server_first);
  EXPECT_NE(mock_salt, real_salt);
  EXPECT_EQ(mock_salt.size(), real_salt.size()) << mock_salt << " vs " << real_salt;
  EXPECT_TRUE(mock_salt.ends_with(",i=4096")) << mock_salt;
  // One ErrorResponse each, differing only by the name's length ("ca_nobody" vs "ca_alice").
  ASSERT_FALSE(mock.reply.empty());
  ASSERT_FALSE(real.reply.empty());
  EXPECT_EQ(mock.reply.front(), 'E');
  EXPECT_EQ(real.reply.front(), 'E');
  EXPECT_EQ(mock.reply.size(), real.reply.size() + 1);
}

TEST_F(ClientAuthTest, Md5MethodChallengesMd5UsersAndKeepsScramForScramUsers) {
  start_with_users(md5_user_line("ca_md5", "md5-pw") + scram_user_line("ca_alice", "alice-pw"),
                   "method: md5");
  // The md5 user gets AuthenticationMD5Password and a right answer logs in.
  RawClient client(proxy_->port());
  client.send(startup_bytes("ca_md5"));
  auto request = read_message(client);
  ASSERT_TRUE(request);
  ASSERT_EQ(auth_code(*request), 5);
  ASSERT_EQ(request->body.size(), 8u);
  protocol::Md5Salt salt;
  for (size_t i = 0; i < salt.size(); ++i) salt[i] = static_cast<uint8_t>(request->body[4 + i]);
  client.send(
      password_message(protocol::md5_response(protocol::md5_secret("md5-pw", "ca_md5"), salt)));
  std::string types;
  while (auto m = read_message(client)) {
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

  EXPECT_EQ(connect(as("ca_md5", "md5-pw")).query_value("select current_user"), "ca_md5");
  EXPECT_EQ(server_part(login_error(as("ca_md5", "wrong-pw"))), auth_failed("ca_md5"));
  RawClient wrong(proxy_->port());
  wrong.send(startup_bytes("ca_md5"));
  ASSERT_TRUE(read_message(wrong));
  wrong.send(password_message("md5" + std::string(32, '0')));
  EXPECT_EQ(first_error_sqlstate(wrong.read_until_closed()), "28P01");

  // As PostgreSQL: method md5 still means SCRAM for a user with a SCRAM verifier.
  RawClient scram(proxy_->port());
  scram.send(startup_bytes("ca_alice"));
  request = read_message(scram);
  ASSERT_TRUE(request);
  EXPECT_EQ(auth_code(*request), 10);
  EXPECT_EQ(request->body.substr(4), std::string("SCRAM-SHA-256\0\0", 15));
  EXPECT_EQ(connect(as("ca_alice", "alice-pw")).query_value("select current_user"), "ca_alice");
  // So does an unknown user (PostgreSQL's mock exchange under the default password_encryption).
  RawClient unknown(proxy_->port());
  unknown.send(startup_bytes("ca_nobody"));
  request = read_message(unknown);
  ASSERT_TRUE(request);
  EXPECT_EQ(auth_code(*request), 10);
  EXPECT_EQ(server_part(login_error(as("ca_nobody", "md5-pw"))), auth_failed("ca_nobody"));
}

TEST_F(ClientAuthTest, TrustedAddressesNeedNoPassword) {
  start_with_users(scram_user_line("ca_alice", "alice-pw"),
                   "method: scram-sha-256, trust_addresses: [10.0.0.0/8, 127.0.0.1/32]");
  EXPECT_EQ(connect(as("ca_a")).query_value("select current_user"), "ca_a");
  RawClient raw(proxy_->port());
  EXPECT_NE(raw_login(raw).find(std::string("R\0\0\0\x08\0\0\0\0", 9)), std::string::npos)
      << "no AuthenticationOk straight after the startup";

  // Method trust for other networks only: a loopback client is refused, password or not.
  start_proxy("auth: { method: trust, trust_addresses: [10.0.0.0/8] }\n");
  RawClient refused(proxy_->port());
  refused.send(startup_bytes("ca_a"));
  std::string reply = refused.read_until_closed();
  EXPECT_TRUE(refused.closed());
  EXPECT_EQ(first_error_sqlstate(reply), "28000");
  EXPECT_EQ(server_part(login_error(as("ca_a", "any"))),
            "FATAL:  no trust entry for host \"127.0.0.1\", user \"ca_a\", database \"postgres\" "
            "(auth.trust_addresses)\n");
}

TEST_F(ClientAuthTest, ClientSilentInTheMiddleOfScramIsTimedOut) {
  start_with_users(scram_user_line("ca_alice", "alice-pw"), "method: scram-sha-256",
                   "timeouts: { client_startup_ms: 300 }\n");
  auto started = std::chrono::steady_clock::now();
  RawClient silent(proxy_->port());
  silent.send(startup_bytes("ca_alice"));
  auto request = read_message(silent);
  ASSERT_TRUE(request);
  EXPECT_EQ(auth_code(*request), 10);
  // Others log in while it keeps its exchange open.
  EXPECT_EQ(connect(as("ca_alice", "alice-pw")).query_value("select current_user"), "ca_alice");

  std::string rest = silent.read_until_closed(5s);
  auto elapsed = std::chrono::steady_clock::now() - started;
  EXPECT_TRUE(silent.closed());
  EXPECT_EQ(first_error_sqlstate(rest), "08P01");
  EXPECT_NE(rest.find("canceling authentication due to timeout"), std::string::npos);
  EXPECT_GE(elapsed, 300ms);
  EXPECT_LT(elapsed, 3s);
  EXPECT_TRUE(proxy_->running());
  EXPECT_EQ(connect(as("ca_alice", "alice-pw")).query_value("select 'after'"), "after");
}

TEST_F(ClientAuthTest, SighupSwapsTheUsersFileAndKeepsTheOldSetWhenTheNewOneIsBroken) {
  start_with_users(scram_user_line("ca_a", "a-pw"));
  Connection a = connect(as("ca_a", "a-pw"));
  EXPECT_NE(login_error(as("ca_b", "b-pw")), "");

  files_.write("users.txt", scram_user_line("ca_b", "b-pw"));
  proxy_->signal(SIGHUP);
  EXPECT_TRUE(wait_until([&] { return login_error(as("ca_b", "b-pw")).empty(); }, 5s));
  EXPECT_EQ(a.query_value("select current_user"), "ca_a");  // sessions keep their set
  EXPECT_EQ(server_part(login_error(as("ca_a", "a-pw"))), auth_failed("ca_a"));

  files_.write("users.txt", "\"ca_a\" \"a-pw\"\n");
  proxy_->signal(SIGHUP);
  EXPECT_TRUE(
      wait_until([&] { return proxy_->log().find("reload_failed") != std::string::npos; }, 5s));
  std::string log = proxy_->log();
  EXPECT_NE(log.find(users_file_ + ": line 1"), std::string::npos) << log;
  EXPECT_EQ(log.find("a-pw"), std::string::npos) << "the log shows a password";
  EXPECT_EQ(connect(as("ca_b", "b-pw")).query_value("select current_user"), "ca_b");
  EXPECT_EQ(server_part(login_error(as("ca_a", "a-pw"))), auth_failed("ca_a"));
  EXPECT_EQ(a.query_value("select 'still here'"), "still here");
}

TEST_F(ClientAuthTest, PlainPasswordInTheUsersFileStopsStartUp) {
  std::string users =
      files_
          .write("users.txt", "# app users\n" + scram_user_line("ca_alice", "alice-pw") +
                                  "\"ca_plain\" \"hunter2\"\n")
          .string();
  std::string config = files_
                           .write("cutover.yaml", "listen: { port: " + std::to_string(free_port()) +
                                                      " }\nauth: { users_file: " + users +
                                                      " }\n"
                                                      "backends: { old: { port: " +
                                                      std::to_string(old_db().port()) + " } }\n")
                           .string();
  CommandResult run = run_command({CUTOVER_BINARY, "run", "--config", config});
  EXPECT_EQ(run.status, 1);
  EXPECT_NE(run.err.find("users file " + users +
                         ": line 3: the secret for \"ca_plain\" is not a "
                         "SCRAM-SHA-256 verifier or md5 hash"),
            std::string::npos)
      << run.err;
  EXPECT_EQ(run.err.find("hunter2"), std::string::npos) << "the message shows the password";
}

}  // namespace
}  // namespace cutover::testing
