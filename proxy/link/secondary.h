// What keeps a session's secondary link usable in dual_write (new's connection; old's after a
// promotion): the login, a reconnect in the background after the connection was lost, with the
// session state the client set replayed first; copies of session state (SET, PREPARE, ...)
// so that reads there see the same settings; its answers read message by message; and a
// watchdog that cancels a wait on it once the wait passes its limit. The link's own state
// (stream, identity, key, bytes read) is the session's secondary_; this is its keeper.
// Not what is sent there: reads routed to it (session_routing.cpp), writes mirrored
// (session_mirror.cpp).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "protocol/error.h"
#include "proxy/auth/backend_login.h"
#include "proxy/auth/cancel_registry.h"
#include "proxy/auth/credentials.h"
#include "proxy/base/config.h"
#include "proxy/link/backend_link.h"
#include "proxy/link/session_state_log.h"
#include "proxy/net/asio.h"
#include "proxy/net/event.h"

namespace cutover::proxy {

class Secondary {
 public:
  struct Setup {
    const Config& config;
    std::shared_ptr<const Secrets> secrets;
    CancelRegistry& cancels;
    const std::optional<ClientKey>& client_key;  // the session's, once the primary gave one
    uint64_t conn_id;
    // Called after each fresh login: what was prepared on the connection before is gone.
    std::function<void()> on_fresh_connection;
  };
  Secondary(BackendLink& link, Setup setup);

  // Up and given every unit of session state: reads and mirrored writes may go there.
  bool ready() const { return ready_; }
  // Whether it is to be reconnected when lost (false once it cannot be given the session's
  // state, or the mirror was retired).
  bool wanted() const { return wanted_; }
  void unwant() { wanted_ = false; }

  // The first login, as `identity` (the session start); ready() says how it went.
  asio::awaitable<void> login(const LoginIdentity& identity);
  // Logs in again after a loss, with backoff, and replays the session state, until the
  // coroutine is cancelled (the relay ends). Runs for the whole relay.
  asio::awaitable<void> maintain();
  // The watchdog over waits on the connection (begin_wait()): cancels its reads once a wait
  // passes its limit. Runs for the whole relay; `shortest` bounds how late a wait that starts
  // while none runs is looked at (the limits may change live).
  asio::awaitable<void> watch(const std::function<std::chrono::milliseconds()>& shortest);
  void begin_wait(std::chrono::milliseconds limit);
  // Ends the wait; true when the watchdog cut it short.
  bool end_wait();
  // Since the current or last wait began.
  std::chrono::steady_clock::duration waited() const;

  asio::awaitable<ErrorCode> send(std::string_view messages);
  // The next whole message; nullopt when the connection failed or sent a bad frame (`error`).
  asio::awaitable<std::optional<Message>> next(protocol::ProtocolError& error);
  // Reads what is there into the link's bytes.
  asio::awaitable<ErrorCode> read_more();
  // cutover's own unit, read up to its ReadyForQuery: the first error's text, empty when there
  // was none; nullopt when the connection failed.
  asio::awaitable<std::optional<std::string>> run_own(std::string_view messages);

  // A unit of session state the client ran: kept for a replay, and copied there now.
  void record_state(std::string_view message);
  asio::awaitable<void> copy_state(std::string_view message);
  const SessionStateLog& state() const { return state_; }
  // One more answer to read and drop before the next use (a read given back to old).
  void expect_discard() { ++replies_to_discard_; }
  // No answer is owed for copied session state.
  bool drained() const { return replies_to_discard_ == 0; }
  // Reads and drops the answers owed for copied session state; false when that failed (then
  // the connection is dropped).
  asio::awaitable<bool> drain();
  // Closes the connection; maintain() logs in again if it is wanted().
  void drop(std::string_view reason);
  // Counts drop()s: what was sent before the last one will never be answered.
  uint64_t generation() const { return generation_; }
  // No more of it: closed, the state log emptied, never reconnected (a decommission).
  void retire();

 private:
  asio::awaitable<bool> connect();
  asio::awaitable<bool> replay_state();

  BackendLink& link_;
  Setup setup_;
  bool ready_ = false;
  bool wanted_ = true;
  uint64_t generation_ = 0;
  int replies_to_discard_ = 0;  // ReadyForQuery still owed for copied session state
  SessionStateLog state_;
  Event down_;  // notified by drop() to wake maintain()
  // A wait has no per-wait timer (arming one per read costs a timerfd_settime and a trip
  // through the scheduler each time): the watchdog's timer is re-armed when it fires.
  Timer watchdog_;
  std::chrono::steady_clock::time_point wait_started_{};
  std::chrono::milliseconds wait_limit_{};
  bool waiting_ = false;
  bool timed_out_ = false;
};

}  // namespace cutover::proxy
