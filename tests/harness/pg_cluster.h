// A throwaway real PostgreSQL 15 cluster for tests, driven through tests/harness/pgcluster.sh.
// Not a mock and not a pool: each instance is its own initdb, server process and directory.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "tests/harness/connection.h"

namespace cutover::testing {

// A throwaway PostgreSQL 15 cluster on a free loopback port; stopped and removed on destruction.
// Starting one takes about a second (initdb with --no-sync, fsync=off).
class PgCluster {
 public:
  struct Options {
    std::string name = "pg";            // shows up in the temp dir name and in errors
    std::string auth = "trust";         // or "scram-sha-256" (local and host lines)
    std::vector<std::string> conf{};    // extra "key=value" config lines; they win over ours
    std::string password = "postgres";  // the superuser's password under scram-sha-256
    // A directory holding server.crt, server.key and ca.crt (TestCertificates::dir()): the
    // server runs with ssl = on and those files, and still accepts plaintext too. Empty: no TLS.
    std::string ssl_cert_dir{};
  };

  // initdb's into a fresh temp dir and starts the server. Throws std::runtime_error carrying
  // the tail of the initdb/server log on failure (and leaves nothing behind).
  explicit PgCluster(Options options);
  // Stops the server at once and removes its directory; never throws. If the running test has
  // failed, prints the tail of the server log to stderr first.
  ~PgCluster();
  PgCluster(const PgCluster&) = delete;
  PgCluster& operator=(const PgCluster&) = delete;

  uint16_t port() const { return port_; }
  const std::string& name() const { return options_.name; }
  const std::filesystem::path& dir() const { return dir_; }
  // "host=127.0.0.1 port=N dbname=D user=U", plus "password=P" when the cluster uses
  // scram-sha-256: P is `password` if given, else the superuser's password.
  std::string conninfo(std::string_view dbname = "postgres", std::string_view user = "postgres",
                       std::string_view password = {}) const;
  // The running postmaster's pid; throws if the server is not running.
  pid_t postmaster_pid() const;

  // Fast shutdown (pg_ctl -m fast); the data stays. Idempotent. Throws on failure.
  void stop();
  // Starts a stopped cluster again on the same port. Idempotent. Throws on failure.
  void start();

  // Runs sql (one or more statements) as the superuser on dbname with libpq and returns every
  // row of the last result: columns joined with '\t', rows with '\n', NULL as "". Throws
  // QueryError carrying the server's message and SQLSTATE.
  std::string query(const std::string& sql, std::string_view dbname = "postgres") const;
  // Opens a new connection as conninfo(dbname, user) would.
  Connection connect(std::string_view dbname = "postgres",
                     std::string_view user = "postgres") const;

  // Everything the server has logged so far (DIR/server.log).
  std::string server_log() const;

 private:
  // Runs pgcluster.sh with the given subcommand on dir_; throws with its stderr on failure.
  std::string script(const std::string& command) const;

  Options options_;
  std::string script_path_;
  std::filesystem::path dir_;
  uint16_t port_ = 0;
};

}  // namespace cutover::testing
