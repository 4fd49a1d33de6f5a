// The listener and its threads: one io_context per thread, sessions spread round-robin, the
// client limit, and the two-phase shutdown on SIGTERM/SIGINT.
// Not the per-connection protocol work (session.h).
#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "proxy/admin/admin_server.h"
#include "proxy/base/config.h"
#include "proxy/net/asio.h"
#include "proxy/session/session.h"
#include "proxy/verification/verifier.h"

namespace cutover::proxy {

class Server {
 public:
  // `config_path`: the file SIGHUP reads again for the settings that can change live.
  Server(const Config& config, std::string config_path);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds the listener; throws std::runtime_error naming the address when it cannot.
  void listen();
  // Serves until shut down; returns the process exit code.
  int run();

 private:
  struct Worker {
    asio::io_context io{1};  // one thread per context: no locking inside Asio
    SessionSet sessions;
    std::thread thread;
  };

  asio::awaitable<void> accept_loop();
  asio::awaitable<void> watch_signals();
  asio::awaitable<void> watch_reload();
  // role_switch.cpp
  asio::awaitable<void> watch_roles();
  asio::awaitable<void> switch_roles(RoleSet wanted);
  asio::awaitable<size_t> sessions_in_flight();
  void start_session(Worker& worker, Socket socket);
  void reload_live_settings();
  void begin_shutdown();
  void finish_shutdown_when_idle();
  void for_each_session(void (Session::*action)());

  const Config& config_;
  const std::string config_path_;
  std::string log_level_;  // as the file last said (SIGHUP changes it live)
  ProxyContext context_;
  std::vector<std::unique_ptr<Worker>> workers_;
  std::vector<asio::executor_work_guard<asio::io_context::executor_type>> keep_alive_;
  Acceptor acceptor_;
  asio::signal_set signals_;
  asio::signal_set reload_signals_;
  Timer shutdown_deadline_;
  size_t next_worker_ = 0;
  std::atomic<int64_t> admitted_clients_{0};
  std::atomic<int64_t> open_sessions_{0};
  std::atomic<bool> stopping_{false};
  std::unique_ptr<Verifier> verifier_;  // null unless cutover mirrors
  std::unique_ptr<AdminServer> admin_;  // null when admin.port is 0
};

}  // namespace cutover::proxy
