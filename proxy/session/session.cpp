#include "proxy/session/session.h"

#include "protocol/backend.h"
#include "proxy/base/log.h"
#include "proxy/migration/mirror_journal.h"
#include "proxy/mirror/session_error.h"
#include "proxy/net/stream_io.h"
#include "proxy/net/tls.h"

namespace cutover::proxy {
namespace {

using namespace asio::experimental::awaitable_operators;
using Clock = std::chrono::steady_clock;

std::string_view end_name(SessionEnd end) {
  using End = SessionEnd;
  switch (end) {
    case End::kClientClosed:
      return "client_closed";
    case End::kClientTerminate:
      return "client_terminate";
    case End::kClientProtocolError:
      return "client_protocol_error";
    case End::kBackendClosed:
      return "backend_closed";
    case End::kBackendProtocolError:
      return "backend_protocol_error";
    case End::kIdleTimeout:
      return "idle_timeout";
    case End::kDrained:
      return "shutdown_drained";
    case End::kTerminated:
      return "shutdown_deadline";
    case End::kSwitchRoles:
    case End::kSwitchImpossible:
      return "role_switch";
    case End::kSwitchTimedOut:
      return "role_switch_timeout";
    case End::kFailed:
      return "cutover_error";
  }
  return "unknown";
}

}  // namespace

Session::Session(Socket client, ProxyContext& context, SessionSet& siblings, bool admitted)
    : client_(std::move(client), context.config.limits.max_message_bytes),
      primary_(client_.executor()),
      secondary_(client_.executor()),
      context_(context),
      siblings_(siblings),
      secrets_(context.secrets()),
      admitted_(admitted),
      id_(context.next_connection_id.fetch_add(1, std::memory_order_relaxed)),
      hold_signal_(client_.executor()),
      new_side_(secondary_, {.config = context.config,
                             .secrets = secrets_,
                             .cancels = context.cancels,
                             .client_key = client_key_,
                             .conn_id = id_,
                             .on_fresh_connection =
                                 [this] {
                                   dispatcher_.statements().new_lost();
                                   pinner_.statements_lost(false);
                                 }}),
      pinner_(*this, context.schema_version, id_),
      mirror_(*this, {.primary = primary_, .secondary = secondary_, .new_side = new_side_}, pinner_,
              context, id_, database_, user_),
      new_reads_(*this,
                 {.client = client_,
                  .primary = primary_,
                  .secondary = secondary_,
                  .new_side = new_side_,
                  .mirror = mirror_},
                 context, *secrets_, id_),
      dispatcher_(*this,
                  {.primary = primary_,
                   .new_side = new_side_,
                   .mirror = mirror_,
                   .pinner = pinner_,
                   .new_reads = new_reads_},
                  context, id_),
      shutdown_signal_(client_.executor()) {
  siblings_.insert(this);
}

Session::~Session() {
  siblings_.erase(this);
  if (client_key_) context_.cancels.remove(client_key_->process_id);
}

void Session::drain() {
  if (stop_ == Stop::kNone) stop_ = Stop::kDrain;
  shutdown_signal_.notify();
}

void Session::terminate() {
  if (stop_ != Stop::kEndForSwitch) stop_ = Stop::kTerminate;
  shutdown_signal_.notify();
}

asio::awaitable<void> Session::run() {
  ErrorCode ec;
  auto peer = client_.stream.socket().remote_endpoint(ec);
  client_address_ = ec ? "?" : peer.address().to_string();
  log::info("client_connected",
            {{"conn", id_}, {"client", client_address_}, {"client_port", ec ? 0 : peer.port()}});
  client_.stream.socket().set_option(tcp::no_delay(true), ec);
  client_.stream.socket().set_option(asio::socket_base::keep_alive(true), ec);
  auto started = co_await (startup() || sleep_for(context_.config.timeouts.client_startup) ||
                           watch_shutdown());
  if (started.index() == 1) {
    log::warn("client_startup_timeout", {{"conn", id_}});
    co_await client_.send_fatal("08P01", "canceling authentication due to timeout");
    co_return;
  }
  if (started.index() == 2) {
    co_await client_.send_fatal("57P01", "terminating connection due to administrator command");
    co_return;
  }
  if (!std::get<0>(started)) co_return;
  log::info("client_logged_in", {{"conn", id_},
                                 {"user", user_},
                                 {"database", database_},
                                 {"backend_pid", client_key_ ? client_key_->process_id : 0}});
  // The relay's synchronous reads and writes must never block the thread.
  client_.stream.socket().non_blocking(true, ec);
  primary_.stream.socket().non_blocking(true, ec);
  co_await finish(co_await relay());
}

asio::awaitable<Session::End> Session::relay() {
  // Allocated only now, so clients still logging in (or refused) cost no relay windows.
  client_.window = std::make_unique_for_overwrite<char[]>(context_.config.limits.buffer_bytes);
  primary_.window = std::make_unique_for_overwrite<char[]>(context_.config.limits.buffer_bytes);
  if (routing())
    secondary_.window = std::make_unique_for_overwrite<char[]>(context_.config.limits.buffer_bytes);
  last_activity_ = Clock::now();
  for (;;) {
    const End end = co_await relay_both_ways();
    // The relay stopped at a transaction boundary for a role switch: no read is pending on
    // either connection, so they can trade places before it starts again.
    if (end != End::kSwitchRoles) co_return end;
    const bool switched = co_await switch_roles();
    if (!switched) co_return End::kSwitchImpossible;
  }
}

asio::awaitable<Session::End> Session::relay_both_ways() {
  if (routing()) {
    if (context_.config.timeouts.client_idle.count() > 0) {
      auto r = co_await (pump_client_routed() || pump_backend() || watch_shutdown() ||
                         watch_idle() || maintain_new() || watch_new_reads());
      co_return std::visit([](End e) { return e; }, r);
    }
    auto r = co_await (pump_client_routed() || pump_backend() || watch_shutdown() ||
                       maintain_new() || watch_new_reads());
    co_return std::visit([](End e) { return e; }, r);
  }
  if (context_.config.timeouts.client_idle.count() > 0) {
    auto r = co_await (pump_client() || pump_backend() || watch_shutdown() || watch_idle());
    co_return std::visit([](End e) { return e; }, r);
  }
  auto r = co_await (pump_client() || pump_backend() || watch_shutdown());
  co_return std::visit([](End e) { return e; }, r);
}

// The secondary's keeper and its watchdog run for the whole relay (secondary.h); they end only
// when the relay ends.
asio::awaitable<Session::End> Session::maintain_new() {
  co_await new_side_.maintain();
  co_return End::kClientClosed;
}

asio::awaitable<Session::End> Session::watch_new_reads() {
  // Named: GCC 12 mishandles temporaries inside co_await expressions.
  const std::function<std::chrono::milliseconds()> shortest = [this] {
    return std::min(context_.live.fallback_timeout(), context_.live.mirror_timeout());
  };
  co_await new_side_.watch(shortest);
  co_return End::kClientClosed;
}

asio::awaitable<Session::End> Session::pump_client() {
  std::string_view chunk = client_.in;  // bytes that arrived with the login, if any
  const asio::mutable_buffer window(client_.window.get(), context_.config.limits.buffer_bytes);
  bool buffer_filled = false;
  for (;;) {
    if (!chunk.empty()) {
      bool terminate = false;
      auto error = client_.scanner.feed(chunk, [&](char type, std::string_view) {
        count_client_message(type);
        if (type == 'X') terminate = true;
      });
      if (error != protocol::ProtocolError{}) {
        protocol_error_ = error;
        co_return End::kClientProtocolError;
      }
      primary_.write_whole = false;
      ErrorCode ec = co_await write_all(primary_.stream, chunk);
      if (ec) co_return End::kBackendClosed;
      primary_.write_whole = true;
      if (terminate) co_return End::kClientTerminate;
    }
    client_.in.clear();
    auto [ec, n] = co_await read_ready(client_.stream, window, buffer_filled);
    if (ec) co_return End::kClientClosed;
    last_activity_ = Clock::now();
    chunk = std::string_view(client_.window.get(), n);
  }
}

asio::awaitable<Session::End> Session::pump_backend() {
  std::string_view chunk = primary_.in;
  const asio::mutable_buffer window(primary_.window.get(), context_.config.limits.buffer_bytes);
  bool buffer_filled = false;
  for (;;) {
    if (!chunk.empty()) {
      const bool filtering = primary_.filter.engaged();
      auto error = primary_.scanner.feed(chunk, [&](char type, std::string_view body, size_t end) {
        count_backend_message(type, body);
        if (filtering) primary_.filter.on_message(type, body, end);
      });
      if (error != protocol::ProtocolError{}) {
        protocol_error_ = error;
        co_return End::kBackendProtocolError;
      }
      if (filtering) chunk = primary_.filter.filter(chunk);
      if (client_.writes_held) co_await client_.wait_for_writes();
      client_.write_whole = false;
      primary_.chunk_unsent = true;
      ErrorCode ec = co_await write_all(client_.stream, chunk);
      if (ec) co_return End::kClientClosed;
      primary_.chunk_unsent = false;
      client_.write_whole = true;
      if (client_.writes_held) client_.writes_signal.notify();
      if (primary_.awaiting_answer && primary_.pending_replies == 0)
        primary_.answer_signal.notify();
      client_.at_boundary = primary_.scanner.at_boundary();
      if (stop_ == Stop::kDrain && idle()) co_return End::kDrained;
    }
    primary_.in.clear();
    auto [ec, n] = co_await read_ready(primary_.stream, window, buffer_filled);
    if (ec) co_return End::kBackendClosed;
    chunk = std::string_view(primary_.window.get(), n);
  }
}

asio::awaitable<Session::End> Session::watch_shutdown() {
  for (;;) {
    if (stop_ == Stop::kTerminate) co_return End::kTerminated;
    if (stop_ == Stop::kEndForSwitch) co_return End::kSwitchTimedOut;
    if (stop_ == Stop::kDrain && idle()) co_return End::kDrained;
    const bool woken = co_await shutdown_signal_.wait();
    if (!woken) co_return End::kTerminated;
  }
}

asio::awaitable<Session::End> Session::watch_idle() {
  const auto limit = context_.config.timeouts.client_idle;
  Timer timer(co_await asio::this_coro::executor);
  for (;;) {
    auto deadline = last_activity_ + limit;
    // While a query runs the client is waiting, not idle: look again one period later.
    if (deadline <= Clock::now()) deadline = Clock::now() + limit;
    timer.expires_at(deadline);
    co_await timer.async_wait();
    auto state = co_await asio::this_coro::cancellation_state;
    if (state.cancelled() != asio::cancellation_type::none) co_return End::kClientClosed;
    if (primary_.pending_replies == 0 && Clock::now() - last_activity_ >= limit) {
      co_return End::kIdleTimeout;
    }
  }
}

// Which client messages old answers with a ReadyForQuery. It ignores a Sync while copying in
// (libpq sends one after Execute and CopyDone): those after a COPY's Execute are taken back.
void Session::count_client_message(char type) {
  switch (type) {
    case 'Q':
      ++primary_.pending_replies;
      primary_.syncs_since_execute = 0;
      break;
    case 'E':
      primary_.syncs_since_execute = 0;
      break;
    case 'F':
      ++primary_.pending_replies;
      break;
    case 'S':
      if (!primary_.copy_in) {
        ++primary_.pending_replies;
        ++primary_.syncs_since_execute;
      }
      break;
    case 'c':
    case 'f':
      primary_.copy_ends_early += primary_.copy_in ? 0 : 1;  // see BackendLink::copy_in
      primary_.copy_in = false;
      break;
    default:
      break;
  }
}

void Session::count_backend_message(char type, std::string_view body) {
  primary_.last_type = type;
  if (type == 'Z' && body.size() == 1) {
    primary_.status = body[0];
    if (primary_.status == 'I') dispatcher_.note_transaction_end();
    primary_.pending_replies = std::max(0, primary_.pending_replies - 1);
    if (primary_.pending_replies == 0) primary_.copy_ends_early = 0;  // no COPY can start now
    last_activity_ = Clock::now();
  } else if (type == 'S') {
    if (auto status = protocol::decode_backend('S', body)) {
      const auto& parameter = std::get<protocol::ParameterStatus>(*status);
      dispatcher_.note_parameter_status(parameter.name, parameter.value);
    }
  } else if (type == 'G') {  // unless the client already ended this COPY
    primary_.copy_in = primary_.copy_ends_early == 0;
    primary_.copy_ends_early -= primary_.copy_in ? 0 : 1;
    primary_.pending_replies = std::max(0, primary_.pending_replies - primary_.syncs_since_execute);
    primary_.syncs_since_execute = 0;
  }
}

bool Session::idle() const {
  return primary_.pending_replies == 0 && primary_.status == 'I' && client_.scanner.at_boundary() &&
         primary_.scanner.at_boundary();
}

asio::awaitable<void> Session::finish(End end) {
  log::info("client_disconnected", {{"conn", id_},
                                    {"reason", end_name(end)},
                                    {"transaction_status", std::string(1, primary_.status)}});
  switch (end) {
    case End::kClientProtocolError:
      log::warn("client_protocol_error",
                {{"conn", id_}, {"error", make_error_code(protocol_error_).message()}});
      co_await client_.send_fatal("08P01", make_error_code(protocol_error_).message());
      break;
    case End::kBackendProtocolError:
      log::error("backend_protocol_error",
                 {{"conn", id_}, {"error", make_error_code(protocol_error_).message()}});
      co_await client_.send_fatal("08P01", "protocol error in the database's reply: " +
                                               make_error_code(protocol_error_).message());
      break;
    case End::kBackendClosed:
      // A backend that ends a session normally says why (e.g. 57P01) before closing.
      if (primary_.last_type != 'E') {
        co_await client_.send_fatal("08006", "the database closed the connection unexpectedly");
      }
      break;
    case End::kIdleTimeout:
      co_await client_.send_fatal("57P05", "terminating connection due to idle-session timeout");
      break;
    case End::kDrained:
    case End::kTerminated:
      co_await client_.send_fatal("57P01", "terminating connection due to administrator command");
      break;
    case End::kSwitchRoles:
    case End::kSwitchImpossible:
      co_await client_.send_fatal(
          "57P01",
          "terminating connection: the source of truth changed and this "
          "session cannot follow it (its connection there is down); reconnect");
      break;
    case End::kSwitchTimedOut:
      co_await client_.send_fatal(
          "57P01",
          "terminating connection: the source of truth is changing and this "
          "session stayed inside a transaction longer than "
          "control.switch_timeout_ms; the transaction was rolled back");
      break;
    case End::kFailed:
      log::error(
          "session_failed",
          {{"conn", id_}, {"sqlstate", sqlstate_of(failure_)}, {"error", failure_.message()}});
      co_await client_.send_fatal(sqlstate_of(failure_), failure_.message());
      break;
    case End::kClientClosed:
    case End::kClientTerminate:
      break;
  }
  // Tell the backend goodbye when its stream is at a message boundary, so the server ends the
  // session cleanly; otherwise closing the socket makes it roll back on its own.
  if (end != End::kClientTerminate && primary_.write_whole && client_.scanner.at_boundary() &&
      primary_.stream.is_open()) {
    std::string terminate;
    protocol::encode(protocol::Terminate{}, terminate);
    co_await write_bounded(primary_.stream, terminate, kFinalWriteTimeout);
  }
  primary_.stream.close();
  secondary_.stream.close();
  client_.stream.close();
}

}  // namespace cutover::proxy
