// Small blocking helpers for cutover's tests: free ports, polling, running commands, temp dirs.
// Not for production code: everything here blocks, polls or throws.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

namespace cutover::testing {

// A loopback TCP port that was free a moment ago: binds 127.0.0.1:0, reads the port, closes.
// It comes from the kernel's ephemeral range; pgcluster.sh picks below that range, so the two
// never hand out the same port.
uint16_t free_port();

// Waits until pred() is true, polling every 10 ms, up to timeout; returns pred()'s last value.
// For awaiting observable events (a row in pg_stat_activity, a log line), not for sleeping.
bool wait_until(const std::function<bool()>& pred, std::chrono::milliseconds timeout);

// `count` clients on threads of their own, each running body(its number from 0) from the
// start; join() waits for them all and gives what each threw ("" when nothing), in order.
class Clients {
 public:
  Clients(int count, const std::function<void(int)>& body);
  ~Clients();
  std::vector<std::string> join();

 private:
  std::vector<std::thread> threads_;
  std::vector<std::string> failures_;
};

struct CommandResult {
  int status = -1;  // exit code, or 128 + signal number if it was killed
  std::string out;  // everything written to stdout
  std::string err;  // everything written to stderr
};

// Runs argv[0] (looked up in PATH) with stdin from /dev/null and the given variables added to
// (or replacing those in) the environment; waits for it. Throws std::system_error if it cannot
// be started, never because of its exit status.
CommandResult run_command(const std::vector<std::string>& argv,
                          const std::vector<std::pair<std::string, std::string>>& env = {});

// Creates a fresh private directory <temp dir>/<prefix>XXXXXX and returns its path.
std::filesystem::path make_temp_dir(std::string_view prefix);

// The file's whole content, or "" if it cannot be read.
std::string read_file(const std::filesystem::path& path);

// The last n lines of text (all of it if it has fewer).
std::string tail_lines(std::string_view text, std::size_t n);

}  // namespace cutover::testing
