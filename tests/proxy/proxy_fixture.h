// A GoogleTest fixture that runs the real cutover binary in front of the shared "old" cluster
// (or, overriding backend_port(), a suite's own PgCluster), plus a raw-socket client for feeding
// the proxy bytes no driver would send.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>

#include "tests/harness/connection.h"
#include "tests/harness/cutover_process.h"
#include "tests/harness/two_clusters.h"
#include "tests/harness/util.h"

namespace cutover::testing {

class ProxyTest : public ::testing::Test {
 protected:
  // Starts cutover with a config that points old at backend_port(); `listen_fields`
  // go inside the listen mapping ("max_clients: 2"), `extra_yaml` is appended as more
  // top-level sections. Clients on 127.0.0.1 are trusted unless `extra_yaml` has its own auth
  // section. SetUp() starts the default; call again to restart differently.
  void start_proxy(const std::string& extra_yaml = "", const std::string& listen_fields = "");
  void SetUp() override { start_proxy(); }
  // The database that old points at: the shared old cluster unless a fixture that owns its own
  // PgCluster (one it may stop, kill or reconfigure) says otherwise.
  virtual uint16_t backend_port() const { return old_db().port(); }
  // The database backends.new points at; 0 leaves backends.new at its default.
  virtual uint16_t new_backend_port() const { return 0; }
  // More fields for backends.old ("user: app, sslmode: require"), if any.
  virtual std::string backend_fields() const { return ""; }

  std::string conninfo() const { return proxy_->conninfo(); }
  Connection connect_proxy() const { return connect(proxy_->conninfo()); }
  PgCluster& old_db() const { return TwoClusters::old_db(); }

  std::unique_ptr<CutoverProcess> proxy_;
};

// An auth section that trusts loopback clients: what tests not about authentication use.
inline constexpr char kTrustLocal[] = "auth: { method: trust, trust_addresses: [127.0.0.1/32] }\n";

// A blocking TCP client with timeouts, for protocol-level tests.
class RawClient {
 public:
  explicit RawClient(uint16_t port);
  ~RawClient();
  RawClient(const RawClient&) = delete;
  RawClient& operator=(const RawClient&) = delete;

  void send(const std::string& bytes);
  // Reads until `n` bytes arrived, the peer closed, or the timeout passed.
  std::string read(size_t n, std::chrono::milliseconds timeout = std::chrono::seconds(5));
  // Reads everything until the peer closes; "" plus closed()==false on timeout.
  std::string read_until_closed(std::chrono::milliseconds timeout = std::chrono::seconds(5));
  bool closed() const { return closed_; }

 private:
  int fd_ = -1;
  bool closed_ = false;
};

// A StartupMessage for the given user and database, length word included.
std::string startup_bytes(const std::string& user = "postgres",
                          const std::string& database = "postgres");

// Logs in over a raw socket (trust auth) and returns what arrived up to ReadyForQuery.
std::string raw_login(RawClient& client);

// One backend message as it came off a raw socket.
struct RawMessage {
  char type;
  std::string body;
};

// Reads exactly one backend message; nullopt if the peer closed or the timeout passed first.
std::optional<RawMessage> read_message(RawClient& client,
                                       std::chrono::milliseconds timeout = std::chrono::seconds(5));

// The request code of an 'R' message: 0 ok, 3 cleartext, 5 MD5, 10 SASL, ...; -1 otherwise.
int auth_code(const RawMessage& m);

// A PasswordMessage ('p') carrying `password`, length word included.
std::string password_message(const std::string& password);

// An SSLRequest, length word included.
std::string ssl_request_bytes();

// PQerrorMessage of a failed login, or "" if the login succeeded.
std::string login_error(const std::string& conninfo);

// The server's part of a libpq login error ("FATAL:  ..."), without libpq's "connection to
// server at ..., port N failed: " prefix, which differs between proxy and direct.
std::string server_part(const std::string& error);

// A users-file line (`"user" "secret"`) with a SCRAM-SHA-256 verifier for the password (4096
// iterations, a salt derived from the user name) or PostgreSQL's md5 secret.
std::string scram_user_line(const std::string& user, const std::string& password);
std::string md5_user_line(const std::string& user, const std::string& password);

// A private temp dir for files a test hands cutover; removed with everything in it.
class ScratchDir {
 public:
  ScratchDir() : path_(make_temp_dir("cutover-test-")) {}
  ~ScratchDir();
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;

  // Writes (replacing) `name` in the dir and returns its path; throws if it cannot.
  std::filesystem::path write(const std::string& name, const std::string& text) const;
  std::filesystem::path operator/(const std::string& name) const { return path_ / name; }

 private:
  std::filesystem::path path_;
};

// The SQLSTATE (C field) of the first ErrorResponse (or, with type 'N', NoticeResponse) in a
// byte string, or "".
std::string first_error_sqlstate(const std::string& bytes, char type = 'E');

}  // namespace cutover::testing
