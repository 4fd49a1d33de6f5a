// One client connection: the startup family, the login relayed to the backend, then the relay
// of both directions with backpressure, timeouts and a clean end.
// Not the listener, the thread pool or the shutdown sequence (server.h).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <unordered_set>

#include "protocol/framing.h"
#include "protocol/startup.h"
#include "proxy/asio.h"
#include "proxy/cancel_registry.h"
#include "proxy/config.h"

namespace cutover::proxy {

class Session;

// What every session of the process shares. The config never changes while sessions run.
struct ProxyContext {
  explicit ProxyContext(const Config& c) : config(c) {}
  const Config& config;
  CancelRegistry cancels;
  std::atomic<uint64_t> next_connection_id{1};
};

// The sessions living on one io_context; touched only from that context's thread.
using SessionSet = std::unordered_set<Session*>;

class Session {
 public:
  // `admitted` is false when the client limit is reached: the client then gets 53300 at startup.
  Session(Socket client, ProxyContext& context, SessionSet& siblings, bool admitted);
  ~Session();
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  asio::awaitable<void> run();

  // Shutdown, called on the session's executor: drain() ends the session at its next idle
  // point (no query in flight); terminate() ends it now.
  void drain();
  void terminate();

 private:
  enum class End {
    kClientClosed,
    kClientTerminate,
    kClientProtocolError,
    kBackendClosed,
    kBackendProtocolError,
    kIdleTimeout,
    kDrained,
    kTerminated,
  };
  struct OwnedFrame {
    char type;
    std::string body;
  };

  // session_startup.cpp
  asio::awaitable<bool> startup();
  asio::awaitable<std::optional<protocol::StartupMessage>> read_startup_message();
  asio::awaitable<bool> connect_backend();
  asio::awaitable<bool> relay_authentication();
  asio::awaitable<bool> relay_login_parameters();
  asio::awaitable<void> forward_cancel(int32_t process_id, int32_t secret_key);
  asio::awaitable<std::optional<OwnedFrame>> read_frame(Socket& socket, std::string& buffer,
                                                        bool startup_family, size_t max_body);

  // session.cpp
  asio::awaitable<End> relay();
  asio::awaitable<End> pump_client();
  asio::awaitable<End> pump_backend();
  asio::awaitable<End> watch_shutdown();
  asio::awaitable<End> watch_idle();
  asio::awaitable<void> finish(End end);
  asio::awaitable<void> send_fatal(std::string_view sqlstate, std::string_view message);
  asio::awaitable<bool> write_bounded(Socket& socket, std::string_view bytes);
  asio::awaitable<ErrorCode> write_all(Socket& socket, std::string_view bytes);
  asio::awaitable<std::pair<ErrorCode, size_t>> read_ready(Socket& socket, char* buffer,
                                                           bool& buffer_filled);
  asio::awaitable<bool> write_to_client(std::string_view bytes);
  void count_client_message(char type);
  void count_backend_message(char type, std::string_view body);
  bool idle() const;
  bool can_write_to_client() const;

  Socket client_;
  Socket backend_;
  ProxyContext& context_;
  SessionSet& siblings_;
  const Config& config_;
  bool admitted_;
  uint64_t id_;
  std::string user_;
  std::string database_;
  std::optional<ClientKey> client_key_;

  std::string client_in_;   // client bytes read during startup, not yet relayed
  std::string backend_in_;  // backend bytes read during login, not yet relayed
  std::unique_ptr<char[]> client_buffer_;
  std::unique_ptr<char[]> backend_buffer_;
  protocol::FrameScanner client_scanner_;
  protocol::FrameScanner backend_scanner_;
  protocol::ProtocolError protocol_error_{};

  int pending_replies_ = 0;        // ReadyForQuery messages the backend still owes
  int syncs_since_execute_ = 0;    // Syncs sent after the latest Execute or Query
  bool copy_in_ = false;           // the backend is copying in (CopyInResponse seen)
  char transaction_status_ = 'I';  // from the last ReadyForQuery
  char last_backend_type_ = '\0';
  bool client_write_whole_ = true;   // no write to the client was cut short
  bool client_at_boundary_ = true;   // what the client got so far ends with a whole message
  bool backend_write_whole_ = true;  // no write to the backend was cut short
  bool draining_ = false;
  bool terminating_ = false;
  Timer shutdown_signal_;  // cancelled by drain()/terminate() to wake watch_shutdown()
  // The last client message or ReadyForQuery: what the idle timeout measures from.
  std::chrono::steady_clock::time_point last_activity_;
};

}  // namespace cutover::proxy
