// A throwaway real PostgreSQL 15 cluster for tests (see pg_cluster.h).
// The shell script owns initdb/pg_ctl details so shell-driven tests share them.
#include "tests/harness/pg_cluster.h"

#include <gtest/gtest.h>

#include <cctype>
#include <cstdlib>
#include <iostream>
#include <stdexcept>
#include <system_error>

#include "tests/harness/util.h"

#ifndef CUTOVER_HARNESS_DIR
#error "CUTOVER_HARNESS_DIR must name tests/harness (set by tests/harness/CMakeLists.txt)"
#endif

namespace cutover::testing {
namespace {

// CUTOVER_PGCLUSTER_SH lets an installed test binary find the script somewhere else.
std::string find_script() {
  if (const char* path = std::getenv("CUTOVER_PGCLUSTER_SH"); path != nullptr && *path != '\0') {
    return path;
  }
  return std::string(CUTOVER_HARNESS_DIR) + "/pgcluster.sh";
}

// Keeps the temp dir name short and shell-safe whatever the caller named the cluster.
std::string dir_prefix(const std::string& name) {
  std::string safe;
  for (char c : name.substr(0, 16)) {
    safe += std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '-' ? c : '_';
  }
  return "cutover-" + safe + "-";
}

std::string describe_failure(const CommandResult& result) {
  std::string text = "pgcluster.sh exited with status " + std::to_string(result.status);
  if (!result.err.empty()) text += ":\n" + result.err;
  return text;
}

// Takes a half-made cluster down so no directory or server outlives a failed constructor.
void discard(const std::string& script, const std::filesystem::path& dir) noexcept {
  try {
    run_command({script, "stop", dir.string()});
  } catch (const std::exception&) {
  }
  std::error_code ignored;
  std::filesystem::remove_all(dir, ignored);
}

uint16_t parse_port(const std::string& text) {
  try {
    int port = std::stoi(text);
    if (port > 0 && port < 65536) return static_cast<uint16_t>(port);
  } catch (const std::exception&) {
  }
  throw std::runtime_error("pgcluster.sh printed no port: '" + text + "'");
}

}  // namespace

PgCluster::PgCluster(Options options)
    : options_(std::move(options)),
      script_path_(find_script()),
      dir_(make_temp_dir(dir_prefix(options_.name))) {
  std::vector<std::string> argv{script_path_,  "start",  dir_.string(), "--name",
                                options_.name, "--auth", options_.auth};
  if (!options_.ssl_cert_dir.empty()) {
    argv.push_back("--ssl");
    argv.push_back(options_.ssl_cert_dir);
  }
  for (const auto& line : options_.conf) {
    argv.push_back("--conf");
    argv.push_back(line);
  }
  CommandResult result;
  try {
    result = run_command(argv, {{"PGCLUSTER_PASSWORD", options_.password}});
    if (result.status == 0) {
      port_ = parse_port(result.out);
      return;
    }
  } catch (...) {
    discard(script_path_, dir_);
    throw;
  }
  discard(script_path_, dir_);
  throw std::runtime_error("PgCluster '" + options_.name +
                           "' failed to start: " + describe_failure(result));
}

PgCluster::~PgCluster() {
  try {
    if (::testing::Test::HasFailure()) {
      std::cerr << "---- PgCluster '" << options_.name << "' (port " << port_
                << ") server log tail ----\n"
                << tail_lines(server_log(), 30) << "\n----\n";
    }
    CommandResult result = run_command({script_path_, "stop", dir_.string()});
    if (result.status != 0) {
      std::cerr << "PgCluster '" << options_.name << "': " << describe_failure(result) << "\n";
    }
  } catch (const std::exception& e) {
    std::cerr << "PgCluster '" << options_.name << "': stop failed: " << e.what() << "\n";
  } catch (...) {
    std::cerr << "PgCluster '" << options_.name << "': stop failed\n";
  }
}

std::string PgCluster::conninfo(std::string_view dbname, std::string_view user,
                                std::string_view password) const {
  std::string text = "host=127.0.0.1 port=" + std::to_string(port_) +
                     " dbname=" + conninfo_value(dbname) + " user=" + conninfo_value(user);
  if (options_.auth != "trust") {
    text += " password=" + conninfo_value(password.empty() ? options_.password : password);
  }
  return text;
}

pid_t PgCluster::postmaster_pid() const {
  std::string out = script("pid");
  try {
    return static_cast<pid_t>(std::stol(out));
  } catch (const std::exception&) {
    throw std::runtime_error("pgcluster.sh pid printed '" + out + "'");
  }
}

void PgCluster::stop() { script("halt"); }

void PgCluster::start() { script("resume"); }

std::string PgCluster::query(const std::string& sql, std::string_view dbname) const {
  return connect(dbname).query(sql);
}

Connection PgCluster::connect(std::string_view dbname, std::string_view user) const {
  return cutover::testing::connect(conninfo(dbname, user));
}

std::string PgCluster::server_log() const { return read_file(dir_ / "server.log"); }

std::string PgCluster::script(const std::string& command) const {
  CommandResult result = run_command({script_path_, command, dir_.string()});
  if (result.status != 0) {
    throw std::runtime_error("PgCluster '" + options_.name + "' " + command + ": " +
                             describe_failure(result));
  }
  return result.out;
}

}  // namespace cutover::testing
