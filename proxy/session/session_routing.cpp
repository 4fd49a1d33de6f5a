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
      count_client_message(frame.type);
      const bool sent = co_await dispatcher_.take(frame.type, frame.body, whole, pending);
      if (!sent) co_return ended_by_a_unit();
      bool terminate = frame.type == 'X';
      client_.in.erase(0, frame.consumed);
      if (terminate) {
        co_await forward_to_old(pending);
        co_return End::kClientTerminate;
      }
    }
    // A batch not whole by now goes to old as it comes: holding it could stall a client that
    // waits for answers before it sends the rest.
    bool sent = co_await dispatcher_.flush(pending);
    if (sent) sent = co_await forward_to_old(pending);
    if (!sent) co_return ended_by_a_unit();
    auto [ec, n] = co_await read_ready(client_.stream, window, buffer_filled);
    if (ec) co_return End::kClientClosed;
    last_activity_ = Clock::now();
    client_.in.append(client_.window.get(), n);
  }
}

// A unit could not go on: old's connection failed, or (the mirror says) a commit new missed
// could not be journaled.
Session::End Session::ended_by_a_unit() {
  failure_ = mirror_.failure();
  return failure_ ? End::kFailed : End::kBackendClosed;
}

}  // namespace cutover::proxy
