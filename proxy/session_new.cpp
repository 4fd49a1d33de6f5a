// new's connection in dual_write: the login at session start, the background reconnect with
// replay of the session's state, copies of session state, and the watchdog over reads there.
// Not the routing of units (session_routing.cpp, session_extended.cpp).
#include "proxy/log.h"
#include "proxy/session.h"

namespace cutover::proxy {
namespace {

using Clock = std::chrono::steady_clock;

}  // namespace

asio::awaitable<void> Session::login_to_secondary(const LoginIdentity& identity,
                                                  const protocol::StartupMessage& startup) {
  new_identity_ = identity_on(database_of(router::Backend::kNew), identity);
  application_name_ = std::string(startup.get("application_name").value_or(""));
  view_.sticky_hash = router::sticky_hash(sticky_key());
  view_.user = user_;
  // Named first: GCC 12 compiled `if (!co_await ...) co_return;` here to a trap (ud2).
  const bool connected = co_await connect_new();
  new_ready_ = connected;
}

std::string Session::sticky_key() const {
  switch (config_.migration.sticky_key) {
    case StickyKey::kSession:
      return std::to_string(id_) + "/" + std::to_string(reinterpret_cast<uintptr_t>(this));
    case StickyKey::kUser:
      return user_;
    case StickyKey::kDatabase:
      return database_;
    case StickyKey::kApplicationName:
      return application_name_;
    case StickyKey::kClientAddress:
      return client_address_;
  }
  return "";
}

// A fresh login to new (not yet marked ready: the caller may have state to replay first).
asio::awaitable<bool> Session::connect_new() {
  const BackendTarget target =
      backend_target(config_, *secrets_, database_of(router::Backend::kNew));
  Stream fresh(client_.socket().get_executor());
  auto result =
      co_await login_backend(fresh, target, new_identity_, config_.timeouts.backend_connect);
  if (!result.ok) {
    // The client is served by old alone meanwhile; maintain_new() tries again.
    log::warn("new_login_failed",
              {{"conn", id_}, {"backend", target.name}, {"error", failure_message(result)}});
    fresh.close();
    co_return false;
  }
  new_backend_ = std::move(fresh);
  ErrorCode ignored;  // read and written like old's connection (see read_ready)
  new_backend_.socket().non_blocking(true, ignored);
  new_in_ = std::move(result.leftover);
  new_replies_to_discard_ = 0;
  statements_.new_lost();
  pinnings_lost(false);
  new_key_ = result.key;
  if (new_key_ && client_key_) {
    context_.cancels.add_secondary(
        client_key_->process_id,
        {target.config.host, target.config.port, new_key_->process_id, new_key_->secret_key});
  }
  co_return true;
}

// Re-establishes new in the background after it was lost (or never reached): logs in again
// with backoff, replays the session state the client set meanwhile, then lets reads go there
// again. Runs for the whole relay; ends only when the relay is cancelled.
asio::awaitable<Session::End> Session::maintain_new() {
  auto backoff = std::chrono::milliseconds(1000);
  Timer timer(co_await asio::this_coro::executor);
  for (;;) {
    while (new_ready_ || !new_wanted_) {
      new_down_signal_.expires_at(Clock::time_point::max());
      co_await new_down_signal_.async_wait();
      auto state = co_await asio::this_coro::cancellation_state;
      if (state.cancelled() != asio::cancellation_type::none) co_return End::kClientClosed;
    }
    timer.expires_after(backoff);
    co_await timer.async_wait();
    auto state = co_await asio::this_coro::cancellation_state;
    if (state.cancelled() != asio::cancellation_type::none) co_return End::kClientClosed;
    bool back = co_await connect_new();
    if (back) back = co_await replay_session_state();
    if (back) {
      new_ready_ = true;
      backoff = std::chrono::milliseconds(1000);
      log::info("new_reconnected", {{"conn", id_}, {"replayed", session_log_.size()}});
    } else {
      new_backend_.close();
      backoff = std::min<std::chrono::milliseconds>(backoff * 2, std::chrono::seconds(30));
    }
  }
}

// Cancels a read on new that waited longer than fallback.timeout_ms for its first answer. The
// timer is re-armed only when it fires: at most once per timeout period per session.
asio::awaitable<Session::End> Session::watch_new_reads() {
  for (;;) {
    // An idle deadline is no later than the deadline of any wait that starts meanwhile (the
    // limits are read again each period: SIGHUP may change them).
    const auto shortest =
        std::min(context_.live.fallback_timeout(), context_.live.mirror_timeout());
    new_read_timer_.expires_at(awaiting_new_ ? new_read_started_ + new_wait_limit_
                                             : Clock::now() + shortest);
    co_await new_read_timer_.async_wait();
    auto state = co_await asio::this_coro::cancellation_state;
    if (state.cancelled() != asio::cancellation_type::none) co_return End::kClientClosed;
    if (awaiting_new_ && Clock::now() - new_read_started_ >= new_wait_limit_) {
      new_read_timed_out_ = true;
      ErrorCode ignored;
      new_backend_.socket().cancel(ignored);
    }
  }
}

// Sends the session state recorded so far to a fresh new, one unit at a time, including units
// the client sends while this runs.
asio::awaitable<bool> Session::replay_session_state() {
  for (size_t i = 0; i < session_log_.size(); ++i) {
    std::string unit = session_log_[i];  // the log may grow (and reallocate) meanwhile
    const auto refused = co_await run_own_on_new(unit);
    if (!refused) co_return false;
    if (!refused->empty()) {
      log::warn("new_replay_failed", {{"conn", id_}, {"error", *refused}});
      new_wanted_ = false;  // it would fail again: this session stays on old
      co_return false;
    }
  }
  co_return true;
}

// Sends cutover's own `messages` (one unit: a Query, or a batch ending with its Sync) to new
// and reads the answer up to its ReadyForQuery: the first error's text, empty when there was
// none; nullopt when the connection failed.
asio::awaitable<std::optional<std::string>> Session::run_own_on_new(std::string_view messages) {
  const ErrorCode sent = co_await write_all(new_backend_, messages);
  if (sent) co_return std::nullopt;
  protocol::ProtocolError error{};
  std::string refused;
  for (;;) {
    auto message = co_await next_from_new(error);
    if (!message) co_return std::nullopt;
    if (message->type == 'E' && refused.empty()) refused = error_message(*message);
    if (message->type == 'Z') co_return refused;
  }
}

// Remembers a session-state unit for replay after a reconnect; a session that piles up more
// than the log holds is no longer reconnected (its reads stay on old).
void Session::log_session_state(std::string_view message) {
  constexpr size_t kMaxLogBytes = 1 << 20;
  session_log_bytes_ += message.size();
  if (session_log_bytes_ > kMaxLogBytes) {
    if (new_wanted_) log::warn("new_session_log_full", {{"conn", id_}});
    new_wanted_ = false;
    session_log_.clear();
    return;
  }
  session_log_.emplace_back(message);
}

// Session state goes to new as well (its answer is read and dropped before new's next read),
// so reads there run with the same settings as on old.
// (Written without `if (co_await ...)`: GCC 12 miscompiled that form here, trapping at run
// time, in a coroutine returning void.)
asio::awaitable<void> Session::copy_to_new(std::string_view message) {
  ErrorCode ec = co_await write_all(new_backend_, message);
  if (ec) {
    drop_new("lost");
  } else {
    ++new_replies_to_discard_;
  }
}

void Session::drop_new(std::string_view reason) {
  if (!new_ready_) return;
  new_ready_ = false;
  new_backend_.close();
  // What new owed for writes sent ahead (parallel ordering) went with the connection.
  for (PendingMirror& pending : mirror_pending_) pending.sent = MirrorSend::kLost;
  new_down_signal_.cancel();  // wakes maintain_new()
  log::warn("new_dropped", {{"conn", id_}, {"reason", reason}});
}

}  // namespace cutover::proxy
