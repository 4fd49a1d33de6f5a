#include "proxy/link/secondary.h"

#include "proxy/base/log.h"
#include "proxy/net/stream_io.h"

namespace cutover::proxy {
namespace {

using Clock = std::chrono::steady_clock;

}  // namespace

Secondary::Secondary(BackendLink& link, Setup setup)
    : link_(link),
      setup_(std::move(setup)),
      down_(link.stream.socket().get_executor()),
      watchdog_(link.stream.socket().get_executor()) {}

asio::awaitable<void> Secondary::login(const LoginIdentity& identity) {
  link_.identity = identity;
  // Named first: GCC 12 compiled `if (!co_await ...) co_return;` here to a trap (ud2).
  const bool connected = co_await connect();
  ready_ = connected;
}

// A fresh login (not yet marked ready: there may be state to replay first).
asio::awaitable<bool> Secondary::connect() {
  const BackendTarget target = backend_target(setup_.config, *setup_.secrets, link_.database);
  Stream fresh(link_.stream.socket().get_executor());
  auto result =
      co_await login_backend(fresh, target, link_.identity, setup_.config.timeouts.backend_connect);
  if (!result.ok) {
    // The client is served by the primary alone meanwhile; maintain() tries again.
    log::warn(
        "new_login_failed",
        {{"conn", setup_.conn_id}, {"backend", target.name}, {"error", failure_message(result)}});
    fresh.close();
    co_return false;
  }
  link_.stream = std::move(fresh);
  ErrorCode ignored;  // read and written like the primary's connection (see read_ready())
  link_.stream.socket().non_blocking(true, ignored);
  link_.in = std::move(result.leftover);
  replies_to_discard_ = 0;
  setup_.on_fresh_connection();
  link_.key = result.key;
  if (link_.key && setup_.client_key) {
    setup_.cancels.add_secondary(
        setup_.client_key->process_id,
        {target.config.host, target.config.port, link_.key->process_id, link_.key->secret_key});
  }
  co_return true;
}

asio::awaitable<void> Secondary::maintain() {
  auto backoff = std::chrono::milliseconds(1000);
  Timer timer(co_await asio::this_coro::executor);
  for (;;) {
    while (ready_ || !wanted_) {
      const bool woken = co_await down_.wait();
      if (!woken) co_return;
    }
    timer.expires_after(backoff);
    co_await timer.async_wait();
    auto state = co_await asio::this_coro::cancellation_state;
    if (state.cancelled() != asio::cancellation_type::none) co_return;
    bool back = co_await connect();
    if (back) back = co_await replay_state();
    if (back) {
      ready_ = true;
      backoff = std::chrono::milliseconds(1000);
      log::info("new_reconnected", {{"conn", setup_.conn_id}, {"replayed", state_.units().size()}});
    } else {
      link_.stream.close();
      backoff = std::min<std::chrono::milliseconds>(backoff * 2, std::chrono::seconds(30));
    }
  }
}

// The session state recorded so far, one unit at a time, including units the client sends
// while this runs.
asio::awaitable<bool> Secondary::replay_state() {
  for (size_t i = 0; i < state_.units().size(); ++i) {
    std::string unit = state_.units()[i];  // the log may grow (and reallocate) meanwhile
    const auto refused = co_await run_own(unit);
    if (!refused) co_return false;
    if (!refused->empty()) {
      log::warn("new_replay_failed", {{"conn", setup_.conn_id}, {"error", *refused}});
      wanted_ = false;  // it would fail again: this session stays on the primary
      co_return false;
    }
  }
  co_return true;
}

asio::awaitable<void> Secondary::watch(const std::function<std::chrono::milliseconds()>& shortest) {
  for (;;) {
    // An idle deadline is no later than the deadline of any wait that starts meanwhile.
    watchdog_.expires_at(waiting_ ? wait_started_ + wait_limit_ : Clock::now() + shortest());
    co_await watchdog_.async_wait();
    auto state = co_await asio::this_coro::cancellation_state;
    if (state.cancelled() != asio::cancellation_type::none) co_return;
    if (waiting_ && Clock::now() - wait_started_ >= wait_limit_) {
      timed_out_ = true;
      ErrorCode ignored;
      link_.stream.socket().cancel(ignored);
    }
  }
}

void Secondary::begin_wait(std::chrono::milliseconds limit) {
  wait_started_ = Clock::now();
  wait_limit_ = limit;
  timed_out_ = false;
  waiting_ = true;
}

bool Secondary::end_wait() {
  waiting_ = false;
  return timed_out_;
}

Clock::duration Secondary::waited() const { return Clock::now() - wait_started_; }

asio::awaitable<ErrorCode> Secondary::send(std::string_view messages) {
  co_return co_await write_all(link_.stream, messages);
}

// Reads the way the primary's relay reads (see read_ready()): a routed read then costs about
// the syscalls and scheduler trips of one relayed by the primary.
asio::awaitable<ErrorCode> Secondary::read_more() {
  const asio::mutable_buffer window(link_.window.get(), setup_.config.limits.buffer_bytes);
  bool buffer_filled = false;  // each call waits for readiness first: answers are small
  auto [ec, n] = co_await read_ready(link_.stream, window, buffer_filled);
  if (!ec) link_.in.append(link_.window.get(), n);
  co_return ec;
}

asio::awaitable<std::optional<Message>> Secondary::next(protocol::ProtocolError& error) {
  for (;;) {
    auto frame = protocol::next_frame(link_.in, kMaxBackendMessage);
    if (frame.status == protocol::FrameStatus::kFrame) {
      Message message{frame.type, std::string(frame.body)};
      link_.in.erase(0, frame.consumed);
      co_return message;
    }
    if (frame.status == protocol::FrameStatus::kError) {
      error = frame.error;
      co_return std::nullopt;
    }
    ErrorCode ec = co_await read_more();
    if (ec) co_return std::nullopt;
  }
}

asio::awaitable<std::optional<std::string>> Secondary::run_own(std::string_view messages) {
  const ErrorCode sent = co_await send(messages);
  if (sent) co_return std::nullopt;
  protocol::ProtocolError error{};
  std::string refused;
  for (;;) {
    auto message = co_await next(error);
    if (!message) co_return std::nullopt;
    if (message->type == 'E' && refused.empty()) refused = error_message(*message);
    if (message->type == 'Z') co_return refused;
  }
}

// A session that piles up more state than the log holds is no longer reconnected (its reads
// stay on the primary).
void Secondary::record_state(std::string_view message) {
  if (state_.record(message)) return;
  if (wanted_) log::warn("new_session_log_full", {{"conn", setup_.conn_id}});
  wanted_ = false;
}

// Its answer is read and dropped before the next use (drain()).
// (Written without `if (co_await ...)`: GCC 12 miscompiled that form in a coroutine returning
// void, trapping at run time.)
asio::awaitable<void> Secondary::copy_state(std::string_view message) {
  ErrorCode ec = co_await send(message);
  if (ec) {
    drop("lost");
  } else {
    ++replies_to_discard_;
  }
}

asio::awaitable<bool> Secondary::drain() {
  protocol::ProtocolError error{};
  while (replies_to_discard_ > 0) {
    auto message = co_await next(error);
    if (!message) {
      drop("lost");
      co_return false;
    }
    // It did not take a setting the primary took: its reads could differ, so it serves no
    // more. (Not 26000: a DEALLOCATE of a statement cutover had not yet prepared there.)
    if (message->type == 'E' && sqlstate_of(*message) != "26000") {
      log::warn("new_session_state_failed",
                {{"conn", setup_.conn_id}, {"error", error_message(*message)}});
      drop("session state");
      co_return false;
    }
    if (message->type == 'Z') --replies_to_discard_;
  }
  co_return true;
}

void Secondary::drop(std::string_view reason) {
  if (!ready_) return;
  ready_ = false;
  ++generation_;  // what it owed for writes sent ahead went with the connection
  link_.stream.close();
  down_.notify();  // wakes maintain()
  log::warn("new_dropped", {{"conn", setup_.conn_id}, {"reason", reason}});
}

void Secondary::retire() {
  wanted_ = false;
  drop("decommissioned");
  state_.clear();
}

}  // namespace cutover::proxy
