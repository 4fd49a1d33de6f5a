// Runs the cutover binary as a real child process for integration tests and fault drills.
// Not an in-process proxy: tests talk to it over TCP and signals, like an operator would.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace cutover::testing {

class CutoverProcess {
 public:
  // Writes config_yaml to a temp file (the caller puts the listen port, built with free_port(),
  // and everything else inside; without an admin section, the admin port is turned off), starts
  // `binary run --config FILE [extra_args...]` in that file's temp directory with stdin from
  // /dev/null and stdout+stderr to a log file, and waits until it listens on listen_port (a LISTEN
  // socket on 127.0.0.1/0.0.0.0/:: that port; up to 10 s). Waiting watches /proc/net/tcp instead of
  // connecting, so readiness never shows up as a client connection in the proxy's metrics or logs.
  // Throws std::runtime_error with the log if the child exits first or the wait times out (the
  // child is then killed and nothing is left behind).
  CutoverProcess(std::string binary, const std::string& config_yaml, uint16_t listen_port,
                 std::vector<std::string> extra_args = {});
  // SIGKILL if still running, reap it, remove the temp files. If the running test has failed,
  // prints the tail of the log to stderr first. Never throws.
  ~CutoverProcess();
  CutoverProcess(const CutoverProcess&) = delete;
  CutoverProcess& operator=(const CutoverProcess&) = delete;

  pid_t pid() const { return pid_; }
  uint16_t port() const { return port_; }
  const std::filesystem::path& config_path() const { return config_path_; }
  // The process's working directory (removed with it): relative paths in its config, such as
  // the default journal directory, land here.
  const std::filesystem::path& dir() const { return dir_; }
  // "host=127.0.0.1 port=N dbname=D user=U", plus "password=P" when password is not empty.
  std::string conninfo(std::string_view dbname = "postgres", std::string_view user = "postgres",
                       std::string_view password = {}) const;

  // Resident set size and its peak (VmRSS/VmHWM from /proc/pid/status), in kB. Throw
  // std::runtime_error once the process has exited.
  long rss_kb() const;
  long peak_rss_kb() const;

  // Sends sig; throws std::logic_error if the process was already reaped by wait_exit().
  void signal(int sig) const;
  // Waits for the process to exit: WEXITSTATUS, or 128 + signal number if killed; nullopt on
  // timeout. Once it has returned a status, later calls return the same status at once.
  std::optional<int> wait_exit(std::chrono::milliseconds timeout);
  // True until the process has exited (it may be a zombie not yet reaped by wait_exit()).
  bool running();

  // Everything the process wrote to stdout and stderr so far.
  std::string log() const;

 private:
  // Polls until the child listens on port_ (true) or has exited or timed out (false).
  bool wait_listening(std::chrono::milliseconds timeout);
  // Kills and reaps the child if needed, removes the temp dir; never throws.
  void cleanup() noexcept;
  long proc_status_kb(std::string_view field) const;

  std::filesystem::path dir_;
  std::filesystem::path config_path_;
  std::filesystem::path log_path_;
  uint16_t port_;
  pid_t pid_ = -1;
  std::optional<int> exit_status_;
};

}  // namespace cutover::testing
