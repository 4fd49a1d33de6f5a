// One client connection: the startup family, the login relayed to the backend, then the relay
// of both directions with backpressure, timeouts and a clean end.
// Not the listener, the thread pool or the shutdown sequence (server.h).
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_set>

#include "protocol/framing.h"
#include "protocol/startup.h"
#include "proxy/auth/backend_login.h"
#include "proxy/auth/cancel_registry.h"
#include "proxy/link/backend_link.h"
#include "proxy/link/client_link.h"
#include "proxy/link/secondary.h"
#include "proxy/migration/proxy_context.h"
#include "proxy/mirror/mirror.h"
#include "proxy/mirror/pinner.h"
#include "proxy/net/asio.h"
#include "proxy/net/event.h"
#include "proxy/session/new_reads.h"
#include "proxy/session/session_end.h"
#include "proxy/session/unit_dispatcher.h"

namespace cutover::proxy {

class Session;

// The sessions living on one io_context; touched only from that context's thread.
using SessionSet = std::unordered_set<Session*>;

class Session final : private Mirror::Host, private UnitDispatcher::Host {
 public:
  // `admitted` is false when the client limit is reached: the client then gets 53300 at startup.
  Session(Socket client, ProxyContext& context, SessionSet& siblings, bool admitted);
  ~Session() override;
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  asio::awaitable<void> run();

  // Shutdown, called on the session's executor: drain() ends the session at its next idle
  // point (no query in flight); terminate() ends it now.
  void drain();
  void terminate();

  // Role switches (session_roles.cpp), called on the session's executor: whether the session
  // is between transactions with nothing in flight (where it can change roles); ending a
  // session that is not, once the switch waited long enough; waking a session held for it.
  bool at_switch_point() const;
  void end_for_switch();
  void release_hold();

 private:
  using End = SessionEnd;

  // session_startup.cpp: the client's login (client_login.h), then the servers'.
  asio::awaitable<bool> startup();
  asio::awaitable<bool> login_to_primary(const LoginIdentity& identity);
  LoginIdentity backend_identity(const protocol::StartupMessage& startup) const;
  LoginIdentity identity_on(router::Backend db, const LoginIdentity& base) const;

  // session_startup.cpp (the secondary's login), session.cpp (its keeper and watchdog, which
  // run for the whole relay).
  asio::awaitable<void> login_to_secondary(const LoginIdentity& identity,
                                           const protocol::StartupMessage& startup);
  std::string sticky_key(std::string_view application_name) const;
  asio::awaitable<End> maintain_new();
  asio::awaitable<End> watch_new_reads();

  // session_routing.cpp: the client's messages handed to the dispatcher, in dual_write.
  bool routing() const;
  asio::awaitable<End> pump_client_routed();
  asio::awaitable<bool> more_from_client(asio::mutable_buffer window, bool& buffer_filled,
                                         std::string& pending);
  End ended_by_a_unit();

  // session_roles.cpp: which database each connection serves, and switching them. primary_
  // is the source of truth's connection (old's in dual_write), secondary_ the other's; a
  // promotion swaps the two, and from then on primary_.database says kNew.
  bool roles_changed() const;
  asio::awaitable<void> wait_while_held();
  asio::awaitable<bool> switch_roles();
  asio::awaitable<bool> prepare_everything_on_new();
  void swap_connections();
  void retire_mirror();

  // session_old.cpp: old's side of the units cutover makes (Mirror::Host, and SourceOfTruth
  // for pinning), and waiting for old's answers, which the relay (pump_backend()) reads.
  char transaction_status() const override { return primary_.status; }
  asio::awaitable<std::optional<HeldAnswer>> query_own(std::string_view sql) override;
  asio::awaitable<bool> run_own(std::string_view messages) override;
  asio::awaitable<bool> forward_to_old(std::string& pending) override;
  asio::awaitable<std::optional<HeldAnswer>> run_on_old(std::string_view messages,
                                                        int units) override;
  std::optional<HeldAnswer> take_kept_answer() override;
  asio::awaitable<bool> wait_for_old() override;
  asio::awaitable<bool> send_ready_to_client(char status) override;

  // session.cpp
  asio::awaitable<End> relay();
  asio::awaitable<End> relay_both_ways();
  asio::awaitable<End> pump_client();
  asio::awaitable<End> pump_backend();
  asio::awaitable<End> watch_shutdown();
  asio::awaitable<End> watch_idle();
  asio::awaitable<void> finish(End end);
  void count_client_message(char type);
  void count_backend_message(char type, std::string_view body);
  bool idle() const;

  ClientLink client_;
  BackendLink primary_;    // the source of truth's connection: the client gets its answers
  BackendLink secondary_;  // the mirror's connection (dual_write), also for reads routed there
  ProxyContext& context_;
  SessionSet& siblings_;
  std::shared_ptr<const Secrets> secrets_;  // as they were when the session started
  bool admitted_;
  uint64_t id_;
  std::string client_address_;
  std::string user_;
  std::string database_;
  std::optional<ClientKey> client_key_;
  Event hold_signal_;  // notified by release_hold()

  Secondary new_side_;  // keeps secondary_ usable (login, reconnect, watchdog)
  Pinner pinner_;
  Mirror mirror_;
  NewReads new_reads_;
  UnitDispatcher dispatcher_;

  protocol::ProtocolError protocol_error_{};

  ErrorCode failure_{};  // why cutover itself ends the session (session_error.h), once it does
  // What ends the session from outside: drain() at its next idle point, terminate() now,
  // end_for_switch() now for a role switch.
  enum class Stop { kNone, kDrain, kTerminate, kEndForSwitch } stop_ = Stop::kNone;
  Event shutdown_signal_;  // notified by drain()/terminate() to wake watch_shutdown()
  // The last client message or ReadyForQuery: what the idle timeout measures from.
  std::chrono::steady_clock::time_point last_activity_;
};

}  // namespace cutover::proxy
