// The client's side of the relay in dual_write: whole messages read from the client, each
// handed to the unit dispatcher (unit_dispatcher.h), with role switches between units.
#include "proxy/net/stream_io.h"
#include "proxy/session/session.h"

namespace cutover::proxy {
namespace {

using Clock = std::chrono::steady_clock;

}  // namespace

bool Session::routing() const { return context_.mirroring; }

// Takes whole messages from the client. A Query, or an extended-query batch up to its Sync,
// that is a read routed to new runs there (when nothing is in flight on old, so answers stay
// in order); all else goes to old unchanged.
asio::awaitable<Session::End> Session::pump_client_routed() {
  std::string pending;  // messages for old, sent in one write
  const asio::mutable_buffer window(client_.window.get(), context_.config.limits.buffer_bytes);
  bool buffer_filled = false;
  bool client_paused = false;  // for limits.batch_hold_ms while a batch was held
  for (;;) {
    for (;;) {
      auto frame = protocol::next_frame(client_.in, context_.config.limits.max_message_bytes);
      if (frame.status == protocol::FrameStatus::kError) {
        protocol_error_ = frame.error;
        co_return End::kClientProtocolError;
      }
      if (frame.status != protocol::FrameStatus::kFrame) break;
      // Roles change between units, never inside one (session_roles.cpp).
      if (frame.type != 'X' && pending.empty() && (context_.roles.holding() || roles_changed()) &&
          at_switch_point()) {
        co_await wait_while_held();
        if (roles_changed()) co_return End::kSwitchRoles;
      }
      std::string_view whole(client_.in.data(), frame.consumed);
      if (!dispatcher_.skips(frame.type)) count_client_message(frame.type);
      const bool sent = co_await dispatcher_.take(frame.type, frame.body, whole, pending);
      if (!sent) co_return ended_by_a_unit();
      bool terminate = frame.type == 'X';
      client_.in.erase(0, frame.consumed);
      if (terminate) {
        co_await forward_to_old(pending);
        co_return End::kClientTerminate;
      }
    }
    // A batch not whole by now waits for the rest while the client goes on sending, so that it
    // is pinned whole at its Sync (UnitDispatcher::may_hold_batch()). When the client pauses
    // first, it goes to old as it comes: the client may be waiting for an answer PostgreSQL
    // sends without a Flush (a COPY's CopyInResponse).
    const bool hold = !client_paused && dispatcher_.may_hold_batch();
    bool sent = true;
    if (!hold) sent = co_await dispatcher_.flush(pending);
    if (sent) sent = co_await forward_to_old(pending);
    if (!sent) co_return ended_by_a_unit();
    if (hold) {
      const bool readable =
          co_await readable_within(client_.stream, context_.config.limits.batch_hold);
      client_paused = !readable;
      if (client_paused) continue;  // the batch goes to old on the next turn
    }
    const bool more = co_await more_from_client(window, buffer_filled, pending);
    if (!more) co_return End::kClientClosed;
  }
}

// Reads what the client sent next into client_.in; false when it is gone. What it sent before
// it went goes to old, as PostgreSQL runs each message as it comes (a pipelined COMMIT commits).
asio::awaitable<bool> Session::more_from_client(asio::mutable_buffer window, bool& buffer_filled,
                                                std::string& pending) {
  const std::pair<ErrorCode, size_t> read =
      co_await read_ready(client_.stream, window, buffer_filled);
  if (read.first) {
    const bool flushed = co_await dispatcher_.flush(pending);
    if (flushed) co_await forward_to_old(pending);
    co_return false;
  }
  last_activity_ = Clock::now();
  client_.in.append(client_.window.get(), read.second);
  co_return true;
}

// A unit could not go on: old's connection failed, or (the mirror says) a commit new missed
// could not be journaled.
Session::End Session::ended_by_a_unit() {
  failure_ = mirror_.failure();
  return failure_ ? End::kFailed : End::kBackendClosed;
}

}  // namespace cutover::proxy
