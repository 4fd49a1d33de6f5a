// Runs the cutover binary as a real child process (see cutover_process.h).
// Not a process supervisor: one child, one owner, no restarts.
#include "tests/harness/cutover_process.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>
#include <stdexcept>
#include <system_error>
#include <thread>
#include <utility>

#include "tests/harness/connection.h"
#include "tests/harness/util.h"

namespace cutover::testing {
namespace {

constexpr std::chrono::seconds kStartTimeout{10};

// True if /proc/net/tcp or tcp6 shows a socket in LISTEN state (0A) on local port `port`.
bool someone_listens_on(uint16_t port) {
  char wanted[8];
  std::snprintf(wanted, sizeof wanted, ":%04X", port);
  for (const char* table : {"/proc/net/tcp", "/proc/net/tcp6"}) {
    std::ifstream in(table);
    std::string line;
    std::getline(in, line);  // header
    while (std::getline(in, line)) {
      std::istringstream fields(line);
      std::string slot, local, remote, state;
      fields >> slot >> local >> remote >> state;
      if (state == "0A" && local.size() > 5 && local.ends_with(wanted)) return true;
    }
  }
  return false;
}

int decode_status(int status) {
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

}  // namespace

CutoverProcess::CutoverProcess(std::string binary, const std::string& config_yaml,
                               uint16_t listen_port, std::vector<std::string> extra_args)
    : dir_(make_temp_dir("cutover-proc-")),
      config_path_(dir_ / "cutover.yaml"),
      log_path_(dir_ / "cutover.log"),
      port_(listen_port) {
  {
    std::ofstream config(config_path_);
    config << config_yaml;
    // No admin port unless the test asks for one: the default, 9187, would be shared by every
    // test process (and any cutover running on the machine).
    const bool admin =
        config_yaml.starts_with("admin:") || config_yaml.find("\nadmin:") != std::string::npos;
    if (!admin) config << "\nadmin: { port: 0 }\n";
    if (!config) {
      cleanup();
      throw std::runtime_error("cannot write " + config_path_.string());
    }
  }
  std::vector<std::string> args{std::move(binary), "run", "--config", config_path_.string()};
  args.insert(args.end(), extra_args.begin(), extra_args.end());
  std::vector<char*> argv;
  argv.reserve(args.size() + 1);
  for (auto& arg : args) argv.push_back(arg.data());
  argv.push_back(nullptr);

  // Opened before fork: only async-signal-safe calls may run in the child of a threaded parent.
  int log_fd = ::open(log_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0644);
  int null_fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (log_fd < 0 || null_fd < 0) {
    std::error_code error(errno, std::generic_category());
    if (log_fd >= 0) ::close(log_fd);
    if (null_fd >= 0) ::close(null_fd);
    cleanup();
    throw std::system_error(error, "open log or /dev/null");
  }
  pid_ = ::fork();
  if (pid_ == 0) {
    ::dup2(null_fd, 0);
    ::dup2(log_fd, 1);
    ::dup2(log_fd, 2);
    if (::chdir(dir_.c_str()) != 0) ::_exit(127);
    ::execvp(argv[0], argv.data());
    static constexpr char kMessage[] = "CutoverProcess: exec failed\n";
    [[maybe_unused]] ssize_t written = ::write(2, kMessage, sizeof kMessage - 1);
    ::_exit(127);
  }
  int fork_errno = errno;
  ::close(log_fd);
  ::close(null_fd);
  if (pid_ < 0) {
    cleanup();
    throw std::system_error(fork_errno, std::generic_category(), "fork");
  }

  if (!wait_listening(kStartTimeout)) {
    std::string reason =
        exit_status_ ? "exited with status " + std::to_string(*exit_status_)
                     : "did not listen within " + std::to_string(kStartTimeout.count()) + " s";
    std::string message = "cutover (" + args[0] + ") " + reason + " on port " +
                          std::to_string(port_) + "; its log:\n" + log();
    cleanup();
    throw std::runtime_error(message);
  }
}

CutoverProcess::~CutoverProcess() {
  if (::testing::Test::HasFailure()) {
    try {
      std::cerr << "---- cutover (pid " << pid_ << ", port " << port_ << ") log tail ----\n"
                << tail_lines(log(), 40) << "\n----\n";
    } catch (...) {
    }
  }
  cleanup();
}

void CutoverProcess::cleanup() noexcept {
  if (pid_ > 0 && !exit_status_) {
    ::kill(pid_, SIGKILL);
    int status = 0;
    while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
    }
    exit_status_ = decode_status(status);
  }
  std::error_code ignored;
  std::filesystem::remove_all(dir_, ignored);
}

bool CutoverProcess::wait_listening(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (!running()) return false;
    if (someone_listens_on(port_)) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return false;
}

std::string CutoverProcess::conninfo(std::string_view dbname, std::string_view user,
                                     std::string_view password) const {
  std::string text = "host=127.0.0.1 port=" + std::to_string(port_) +
                     " dbname=" + conninfo_value(dbname) + " user=" + conninfo_value(user);
  if (!password.empty()) text += " password=" + conninfo_value(password);
  return text;
}

long CutoverProcess::proc_status_kb(std::string_view field) const {
  if (exit_status_) throw std::runtime_error("cutover process has exited");
  std::ifstream in("/proc/" + std::to_string(pid_) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.starts_with(field) && line.size() > field.size() && line[field.size()] == ':') {
      return std::stol(line.substr(field.size() + 1));
    }
  }
  // A zombie has no memory lines left.
  throw std::runtime_error("no " + std::string(field) + " for pid " + std::to_string(pid_) +
                           " (has it exited?)");
}

long CutoverProcess::rss_kb() const { return proc_status_kb("VmRSS"); }

long CutoverProcess::peak_rss_kb() const { return proc_status_kb("VmHWM"); }

void CutoverProcess::signal(int sig) const {
  // After waitpid the pid may belong to someone else: never signal it.
  if (exit_status_) throw std::logic_error("cutover process already exited and was reaped");
  if (::kill(pid_, sig) != 0) {
    throw std::system_error(errno, std::generic_category(), "kill " + std::to_string(pid_));
  }
}

bool CutoverProcess::running() {
  if (exit_status_) return false;
  int status = 0;
  pid_t reaped = ::waitpid(pid_, &status, WNOHANG);
  if (reaped == pid_) exit_status_ = decode_status(status);
  return !exit_status_;
}

std::optional<int> CutoverProcess::wait_exit(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (running()) {
    if (std::chrono::steady_clock::now() >= deadline) return std::nullopt;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return exit_status_;
}

std::string CutoverProcess::log() const { return read_file(log_path_); }

}  // namespace cutover::testing
