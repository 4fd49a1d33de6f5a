// A GoogleTest fixture that runs the real cutover binary in front of the shared "old" cluster
// (or, overriding backend_port(), a suite's own PgCluster), plus a raw-socket client for feeding
// the proxy bytes no driver would send.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <memory>
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
  // top-level sections. SetUp() starts the default; call again to restart differently.
  void start_proxy(const std::string& extra_yaml = "", const std::string& listen_fields = "");
  void SetUp() override { start_proxy(); }
  // The database that old points at: the shared old cluster unless a fixture that owns its own
  // PgCluster (one it may stop, kill or reconfigure) says otherwise.
  virtual uint16_t backend_port() const { return old_db().port(); }

  std::string conninfo() const { return proxy_->conninfo(); }
  Connection connect_proxy() const { return connect(proxy_->conninfo()); }
  PgCluster& old_db() const { return TwoClusters::old_db(); }

  std::unique_ptr<CutoverProcess> proxy_;
};

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

// The SQLSTATE (C field) of the first ErrorResponse (or, with type 'N', NoticeResponse) in a
// byte string, or "".
std::string first_error_sqlstate(const std::string& bytes, char type = 'E');

}  // namespace cutover::testing
