// The admin HTTP port (shared/INTERFACE.md): status, readiness, health, metrics, and the
// mutations operators move the migration with — the read ramp and the phase — each checked
// against the phase rules and promotion gates (router/transitions.h), written to the state
// file (control_state.h) and to the audit log before it takes effect. Mutations need the
// bearer token from admin.token_file. Runs on a thread of its own (Boost.Beast), so an
// operator gets an answer however busy the sessions are.
#pragma once

#include <atomic>
#include <boost/json/object.hpp>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>

#include "proxy/base/config.h"
#include "proxy/control/control_state.h"
#include "proxy/net/asio.h"
#include "router/transitions.h"

namespace cutover::proxy {

class ProxyContext;

// What the admin port reports about the rest of the process, read when asked (thread-safe).
struct AdminView {
  std::function<int64_t()> clients;  // client connections being served
  std::function<bool()> draining;    // shutting down: not ready for new clients
  // Verification (empty when cutover does not mirror): starts a pass, giving its number
  // (nullopt while one runs); the latest pass's report ("" before the first).
  std::function<std::optional<uint64_t>()> start_verification{};
  std::function<std::string()> verification_report{};
};

// One HTTP request as the admin API sees it, and its answer.
struct AdminRequest {
  std::string method;
  std::string target;
  std::string authorization;  // the Authorization header, as sent
  std::string operator_name;  // X-Cutover-Operator, for the audit log
  std::string remote;         // the peer's address
  std::string body;
};
struct AdminResponse {
  unsigned status = 200;
  std::string content_type = "application/json";
  std::string body;
};

class AdminServer {
 public:
  // Reads the token file (when one is named); throws std::runtime_error naming it.
  AdminServer(const Config& config, ControlState& control, ProxyContext& context, AdminView view);
  ~AdminServer();
  AdminServer(const AdminServer&) = delete;
  AdminServer& operator=(const AdminServer&) = delete;

  // Binds admin.address:admin.port; throws std::runtime_error naming it when it cannot.
  void listen();
  uint16_t port() const { return port_; }
  void start();  // serves on its own thread until stop()
  void stop();
  // Reads admin.token_file again (SIGHUP); throws std::runtime_error, keeping the token in
  // use, when it cannot.
  void reload_token();

  // The API itself, without the HTTP transport (also what the tests drive).
  AdminResponse handle(const AdminRequest& request);

 private:
  asio::awaitable<void> accept_loop();
  asio::awaitable<void> serve(tcp::socket socket);
  asio::awaitable<void> sample_counts();

  AdminResponse status() const;
  AdminResponse readiness() const;
  AdminResponse divergences() const;
  AdminResponse verification_report() const;
  AdminResponse start_verification();
  boost::json::object divergence_summary() const;
  AdminResponse metrics() const;
  AdminResponse change_ramp(const AdminRequest& request);
  AdminResponse change_phase(const AdminRequest& request);
  std::optional<AdminResponse> refuse_unauthorized(const AdminRequest& request) const;
  AdminResponse apply(const AdminRequest& request, const std::string& what, router::Phase phase,
                      uint32_t ramp, uint64_t version, bool forced);
  router::PromotionFacts promotion_facts() const;
  struct Counts {  // what the promotion gates count over the window
    uint64_t mismatches = 0;
    uint64_t fallbacks = 0;
  };
  Counts counts_now() const;
  Counts counts_in_window() const;

  const Config& config_;
  ControlState& control_;
  ProxyContext& context_;
  AdminView view_;
  mutable std::mutex token_mutex_;  // the token is replaced on SIGHUP, from another thread
  std::string token_;
  asio::io_context io_{1};
  tcp::acceptor acceptor_{io_};
  uint16_t port_ = 0;
  std::thread thread_;
  // (when, the counts so far), sampled every few seconds over the promotion window
  mutable std::mutex samples_mutex_;
  std::deque<std::pair<std::chrono::steady_clock::time_point, Counts>> samples_;
};

}  // namespace cutover::proxy
