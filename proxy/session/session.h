// One client connection: the startup family, the login relayed to the backend, then the relay
// of both directions with backpressure, timeouts and a clean end.
// Not the listener, the thread pool or the shutdown sequence (server.h).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "protocol/framing.h"
#include "protocol/scram.h"
#include "protocol/startup.h"
#include "proxy/auth/backend_login.h"
#include "proxy/auth/cancel_registry.h"
#include "proxy/auth/credentials.h"
#include "proxy/base/config.h"
#include "proxy/base/metrics.h"
#include "proxy/control/roles.h"
#include "proxy/link/backend_link.h"
#include "proxy/link/client_link.h"
#include "proxy/link/kept_messages.h"
#include "proxy/link/reply_filter.h"
#include "proxy/link/secondary.h"
#include "proxy/migration/mirror_journal.h"
#include "proxy/migration/proxy_context.h"
#include "proxy/migration/sequence_keeper.h"
#include "proxy/mirror/mirror.h"
#include "proxy/mirror/pinner.h"
#include "proxy/mirror/session_error.h"
#include "proxy/net/asio.h"
#include "proxy/net/event.h"
#include "proxy/net/stream.h"
#include "proxy/net/stream_io.h"
#include "router/circuit_breaker.h"
#include "router/classify.h"
#include "router/extended.h"
#include "router/insert_defaults.h"
#include "router/policy.h"
#include "verify/comparator.h"
#include "verify/journal.h"

namespace cutover::proxy {

class Session;

// The sessions living on one io_context; touched only from that context's thread.
using SessionSet = std::unordered_set<Session*>;

class Session final : private Mirror::Host {
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
  // How long a closing session waits for a peer to take its last message.
  static constexpr auto kFinalWriteTimeout = std::chrono::seconds(1);

  enum class End {
    kClientClosed,
    kClientTerminate,
    kClientProtocolError,
    kBackendClosed,
    kBackendProtocolError,
    kIdleTimeout,
    kDrained,
    kTerminated,
    kSwitchRoles,       // at a transaction boundary, the roles changed: switch, then relay on
    kSwitchImpossible,  // ... but this session cannot take the new roles
    kSwitchTimedOut,    // still inside a transaction when the role switch stopped waiting
    kFailed,            // cutover could not go on: failure_ says why
  };

  // session_startup.cpp
  asio::awaitable<bool> startup();
  asio::awaitable<std::optional<protocol::StartupMessage>> read_startup_message();
  asio::awaitable<bool> answer_encryption_request(bool ssl);
  asio::awaitable<bool> login_to_primary(const LoginIdentity& identity);
  LoginIdentity backend_identity(const protocol::StartupMessage& startup) const;
  LoginIdentity identity_on(router::Backend db, const LoginIdentity& base) const;
  asio::awaitable<void> forward_cancel(int32_t process_id, int32_t secret_key);

  // client_auth.cpp
  asio::awaitable<bool> authenticate_client(LoginIdentity& identity);
  asio::awaitable<bool> find_secret(std::optional<Secret>& secret);
  asio::awaitable<bool> scram_exchange(const std::optional<Secret>& secret,
                                       LoginIdentity& identity);
  asio::awaitable<bool> md5_exchange(const Secret& secret);
  asio::awaitable<std::optional<std::string>> read_auth_response();
  asio::awaitable<void> reject_password(std::string_view reason);

  // session_startup.cpp (the secondary's login), session.cpp (its keeper and watchdog, which
  // run for the whole relay).
  asio::awaitable<void> login_to_secondary(const LoginIdentity& identity,
                                           const protocol::StartupMessage& startup);
  std::string sticky_key() const;
  asio::awaitable<End> maintain_new();
  asio::awaitable<End> watch_new_reads();

  // session_routing.cpp: the unit dispatcher in dual_write.
  bool routing() const;
  asio::awaitable<End> pump_client_routed();
  End ended_by_a_unit();
  asio::awaitable<bool> route_query(std::string_view body, std::string_view whole,
                                    std::string& pending);
  const router::Classification& classify(std::string_view sql);
  router::Decision decide(const router::Classification& unit);
  void note_unit(const router::Classification& unit);
  void forget_prepared(const router::Classification& unit);
  void note_parameter_status(std::string_view body);

  // session_new_reads.cpp: reads the ramp sends to new, shadow reads, writes to the client.
  // What became of a read the ramp may send to new: new answered the client, or old must run it
  // (not routed there, or new failed before any answer went out).
  enum class NewRead { kAnswered, kOnOld };
  // `shadow_for_old`: the read as old would run it, to compare old's answer when the read is
  // sampled for a shadow read (empty: never).
  asio::awaitable<NewRead> try_new(std::string_view message, const router::Classification& unit,
                                   int prefix_replies, std::string_view shadow_for_old = {});
  asio::awaitable<NewRead> run_on_new(std::string_view message, const router::Classification& unit,
                                      int prefix_replies, std::string_view shadow_for_old);
  asio::awaitable<void> shadow_on_old(std::string_view for_old, const router::Classification& unit,
                                      const HeldAnswer& on_new);
  asio::awaitable<std::optional<Message>> first_answer_from_new(int prefix_replies,
                                                                bool& prefix_failed);
  asio::awaitable<void> stream_from_new(Message first, HeldAnswer* seen = nullptr);
  bool shadows(const router::Classification& unit);
  asio::awaitable<bool> send_ready_to_client(char status) override;
  asio::awaitable<void> wait_for_client_writes();
  asio::awaitable<void> hold_client_writes();
  void release_client_writes();
  asio::awaitable<bool> relay_to_client(std::string_view bytes);

  // session_extended.cpp: extended-query batches (Parse ... Sync) routed as one unit.
  asio::awaitable<bool> route_extended(char type, std::string_view whole, std::string& pending);
  asio::awaitable<bool> run_batch(std::string& pending);
  asio::awaitable<bool> commit_batch_to_old(std::string& pending);
  asio::awaitable<bool> send_batch_to_old(std::string_view batch, const router::BatchPlan& plan,
                                          std::string& pending);
  asio::awaitable<bool> send_piece_to_old(std::string_view piece, const router::BatchPlan& plan,
                                          std::string& pending);
  asio::awaitable<bool> copy_batch_to_new(std::string_view batch, const router::BatchPlan& plan);
  asio::awaitable<bool> mirror_batch(std::string_view batch, const router::BatchPlan& plan,
                                     std::string& pending);
  asio::awaitable<bool> mirror_partial_batch(std::string_view sync, std::string& pending);
  router::BatchPlan plan_batch(std::string_view batch, bool new_is_empty = false);
  void note_batch(const router::BatchPlan& plan);

  // session_roles.cpp: which database each connection serves, and switching them.
  // Names in this class say "old" and "new" as in dual_write: primary_ (old's) is the source
  // of truth's connection, whose answers the client gets, and secondary_ the other
  // database's. A promotion swaps the two, and from then on primary_.database says kNew.
  router::Backend database_of(router::Backend side) const {
    return primary_.database == router::Backend::kOld ? side : router::other(side);
  }
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
  asio::awaitable<bool> wait_for_old() override;

  // session.cpp
  asio::awaitable<End> relay();
  asio::awaitable<End> relay_both_ways();
  asio::awaitable<End> pump_client();
  asio::awaitable<End> pump_backend();
  asio::awaitable<End> watch_shutdown();
  asio::awaitable<End> watch_idle();
  asio::awaitable<void> finish(End end);
  asio::awaitable<void> send_fatal(std::string_view sqlstate, std::string_view message);
  asio::awaitable<bool> write_to_client(std::string_view bytes);
  void count_client_message(char type);
  void count_backend_message(char type, std::string_view body);
  bool idle() const;
  bool can_write_to_client() const;

  ClientLink client_;
  BackendLink primary_;    // the source of truth's connection: the client gets its answers
  BackendLink secondary_;  // the mirror's connection (dual_write), also for reads routed there
  ProxyContext& context_;
  SessionSet& siblings_;
  const Config& config_;
  std::shared_ptr<const Secrets> secrets_;  // as they were when the session started
  bool admitted_;
  uint64_t id_;
  std::string client_address_;
  std::string user_;
  std::string database_;
  std::optional<ClientKey> client_key_;
  bool switch_timed_out_ = false;
  Event hold_signal_;  // notified by release_hold()

  Secondary new_side_;  // keeps secondary_ usable (login, reconnect, watchdog)
  // standard_conforming_strings is off: '\' escapes in plain literals, which the classifier
  // (like libpg_query) does not expect, so nothing of this session is read as a read.
  bool nonstandard_strings_ = false;
  bool schema_changed_ = false;  // DDL ran in the open transaction: a new version at its end
  // The client pump waits for old's answer to a mirrored unit: pump_backend() wakes it once
  // old owes nothing and the bytes went out to the client.
  bool awaiting_old_ = false;
  bool old_chunk_unsent_ = false;
  Event old_answer_signal_;
  router::SessionView view_;  // what the policy knows of this session
  Pinner pinner_;
  Mirror mirror_;
  // Extended-query messages of the batch being gathered, up to its Sync; once a batch cannot
  // be held whole (a Flush, or it spans reads from the client) the rest goes to old as it comes.
  std::string batch_;
  bool batch_to_old_ = false;
  int batch_parses_on_old_ = 0;  // Parse messages of the current batch already sent to old
  KeptMessages partial_batch_;   // what went to old of it, for mirroring at its Sync
  router::PreparedStatements statements_;
  std::string application_name_;

  protocol::ProtocolError protocol_error_{};

  ErrorCode failure_{};  // why cutover itself ends the session (session_error.h), once it does
  bool draining_ = false;
  bool terminating_ = false;
  Event shutdown_signal_;  // notified by drain()/terminate() to wake watch_shutdown()
  // The last client message or ReadyForQuery: what the idle timeout measures from.
  std::chrono::steady_clock::time_point last_activity_;
};

}  // namespace cutover::proxy
