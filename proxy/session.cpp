#include "proxy/session.h"

#include "protocol/backend.h"
#include "proxy/log.h"
#include "proxy/mirror_journal.h"
#include "proxy/tls.h"

namespace cutover::proxy {
namespace {

using namespace asio::experimental::awaitable_operators;
using Clock = std::chrono::steady_clock;

// A backend may legitimately send rows up to PostgreSQL's own 1 GiB limit.
constexpr size_t kMaxBackendMessage = size_t{1} << 30;
// How long a closing session waits for a client to take its final error message.
constexpr auto kFinalWriteTimeout = std::chrono::seconds(1);

std::string_view end_name(auto end) {
  using End = decltype(end);
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
  }
  return "unknown";
}

}  // namespace

asio::awaitable<void> sleep_for(Clock::duration duration) {
  Timer timer(co_await asio::this_coro::executor, duration);
  co_await timer.async_wait();
}

Session::Session(Socket client, ProxyContext& context, SessionSet& siblings, bool admitted)
    : client_(std::move(client)),
      backend_(client_.socket().get_executor()),
      context_(context),
      siblings_(siblings),
      config_(context.config),
      secrets_(context.secrets()),
      admitted_(admitted),
      id_(context.next_connection_id.fetch_add(1, std::memory_order_relaxed)),
      hold_signal_(client_.socket().get_executor()),
      new_backend_(client_.socket().get_executor()),
      new_down_signal_(client_.socket().get_executor()),
      new_read_timer_(client_.socket().get_executor()),
      client_writes_signal_(client_.socket().get_executor()),
      old_answer_signal_(client_.socket().get_executor()),
      client_scanner_("", context.config.limits.max_message_bytes),
      backend_scanner_("ZSCE", kMaxBackendMessage),
      shutdown_signal_(client_.socket().get_executor(), Clock::time_point::max()) {
  siblings_.insert(this);
}

Session::~Session() {
  siblings_.erase(this);
  if (client_key_) context_.cancels.remove(client_key_->process_id);
}

void Session::drain() {
  draining_ = true;
  shutdown_signal_.cancel();
}

void Session::terminate() {
  terminating_ = true;
  shutdown_signal_.cancel();
}

asio::awaitable<void> Session::run() {
  ErrorCode ec;
  auto peer = client_.socket().remote_endpoint(ec);
  client_address_ = ec ? "?" : peer.address().to_string();
  log::info("client_connected",
            {{"conn", id_}, {"client", client_address_}, {"client_port", ec ? 0 : peer.port()}});
  client_.socket().set_option(tcp::no_delay(true), ec);
  client_.socket().set_option(asio::socket_base::keep_alive(true), ec);
  auto started =
      co_await (startup() || sleep_for(config_.timeouts.client_startup) || watch_shutdown());
  if (started.index() == 1) {
    log::warn("client_startup_timeout", {{"conn", id_}});
    co_await send_fatal("08P01", "canceling authentication due to timeout");
    co_return;
  }
  if (started.index() == 2) {
    co_await send_fatal("57P01", "terminating connection due to administrator command");
    co_return;
  }
  if (!std::get<0>(started)) co_return;
  log::info("client_logged_in", {{"conn", id_},
                                 {"user", user_},
                                 {"database", database_},
                                 {"backend_pid", client_key_ ? client_key_->process_id : 0}});
  // The relay's synchronous reads and writes must never block the thread.
  client_.socket().non_blocking(true, ec);
  backend_.socket().non_blocking(true, ec);
  co_await finish(co_await relay());
}

asio::awaitable<Session::End> Session::relay() {
  // Allocated only now, so clients still logging in (or refused) cost no relay windows.
  client_buffer_ = std::make_unique_for_overwrite<char[]>(config_.limits.buffer_bytes);
  backend_buffer_ = std::make_unique_for_overwrite<char[]>(config_.limits.buffer_bytes);
  if (routing()) new_buffer_ = std::make_unique_for_overwrite<char[]>(config_.limits.buffer_bytes);
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
    if (config_.timeouts.client_idle.count() > 0) {
      auto r = co_await (pump_client_routed() || pump_backend() || watch_shutdown() ||
                         watch_idle() || maintain_new() || watch_new_reads());
      co_return std::visit([](End e) { return e; }, r);
    }
    auto r = co_await (pump_client_routed() || pump_backend() || watch_shutdown() ||
                       maintain_new() || watch_new_reads());
    co_return std::visit([](End e) { return e; }, r);
  }
  if (config_.timeouts.client_idle.count() > 0) {
    auto r = co_await (pump_client() || pump_backend() || watch_shutdown() || watch_idle());
    co_return std::visit([](End e) { return e; }, r);
  }
  auto r = co_await (pump_client() || pump_backend() || watch_shutdown());
  co_return std::visit([](End e) { return e; }, r);
}

asio::awaitable<Session::End> Session::pump_client() {
  std::string_view chunk = client_in_;  // bytes that arrived with the login, if any
  const asio::mutable_buffer window(client_buffer_.get(), config_.limits.buffer_bytes);
  bool buffer_filled = false;
  for (;;) {
    if (!chunk.empty()) {
      bool terminate = false;
      auto error = client_scanner_.feed(chunk, [&](char type, std::string_view) {
        count_client_message(type);
        if (type == 'X') terminate = true;
      });
      if (error != protocol::ProtocolError{}) {
        protocol_error_ = error;
        co_return End::kClientProtocolError;
      }
      backend_write_whole_ = false;
      ErrorCode ec = co_await write_all(backend_, chunk);
      if (ec) co_return End::kBackendClosed;
      backend_write_whole_ = true;
      if (terminate) co_return End::kClientTerminate;
    }
    client_in_.clear();
    auto [ec, n] = co_await read_ready(client_, window, buffer_filled);
    if (ec) co_return End::kClientClosed;
    last_activity_ = Clock::now();
    chunk = std::string_view(client_buffer_.get(), n);
  }
}

// Waits for readiness, then reads what is there. Between requests a socket is empty, and a
// speculative recv() (what async_read_some does first) would only find that out; waiting first
// costs Asio one epoll_ctl that re-arms the edge-triggered registration, so no byte or EOF that
// arrived meanwhile goes unnoticed, and takes fewer trips through the scheduler. A read that
// filled the buffer may have left more behind, so the next one reads at once.
asio::awaitable<std::pair<ErrorCode, size_t>> Session::read_ready(Stream& stream,
                                                                  asio::mutable_buffer buffer,
                                                                  bool& buffer_filled) {
  // TLS may hold decrypted bytes the socket no longer shows, so readiness says nothing there.
  if (stream.encrypted()) co_return co_await stream.read_some(buffer);
  Socket& socket = stream.socket();
  if (buffer_filled) {
    // Through the scheduler, so a stream faster than the proxy cannot starve other sessions.
    auto [ec, n] = co_await socket.async_read_some(buffer);
    buffer_filled = n == buffer.size();
    co_return std::pair{ec, n};
  }
  for (;;) {
    auto [wait_ec] = co_await socket.async_wait(tcp::socket::wait_read);
    if (wait_ec) co_return std::pair{wait_ec, size_t{0}};
    ErrorCode ec;
    size_t n = socket.read_some(buffer, ec);
    buffer_filled = n == buffer.size();
    if (ec != asio::error::would_block) co_return std::pair{ec, n};
  }
}

// Writes all of `bytes`, without a trip through the scheduler when the socket takes them at
// once (the common case for a relay).
asio::awaitable<ErrorCode> Session::write_all(Stream& stream, std::string_view bytes) {
  if (stream.encrypted()) co_return co_await stream.write(bytes);
  Socket& socket = stream.socket();
  ErrorCode ec;
  size_t n = socket.write_some(asio::buffer(bytes), ec);
  if (ec == asio::error::would_block) {
    n = 0;
    ec = {};
  }
  if (ec || n == bytes.size()) co_return ec;
  auto [rest_ec, rest] = co_await asio::async_write(socket, asio::buffer(bytes.substr(n)));
  co_return rest_ec;
}

asio::awaitable<Session::End> Session::pump_backend() {
  std::string_view chunk = backend_in_;
  const asio::mutable_buffer window(backend_buffer_.get(), config_.limits.buffer_bytes);
  bool buffer_filled = false;
  for (;;) {
    if (!chunk.empty()) {
      const bool filtering = old_filter_.engaged();
      auto error = backend_scanner_.feed(chunk, [&](char type, std::string_view body, size_t end) {
        count_backend_message(type, body);
        if (filtering) old_filter_.on_message(type, body, end);
      });
      if (error != protocol::ProtocolError{}) {
        protocol_error_ = error;
        co_return End::kBackendProtocolError;
      }
      if (filtering) chunk = old_filter_.filter(chunk);
      if (client_writes_held_) co_await wait_for_client_writes();
      client_write_whole_ = false;
      old_chunk_unsent_ = true;
      ErrorCode ec = co_await write_all(client_, chunk);
      if (ec) co_return End::kClientClosed;
      old_chunk_unsent_ = false;
      client_write_whole_ = true;
      if (client_writes_held_) client_writes_signal_.cancel();
      if (awaiting_old_ && pending_replies_ == 0) old_answer_signal_.cancel();
      client_at_boundary_ = backend_scanner_.at_boundary();
      if (draining_ && idle()) co_return End::kDrained;
    }
    backend_in_.clear();
    auto [ec, n] = co_await read_ready(backend_, window, buffer_filled);
    if (ec) co_return End::kBackendClosed;
    chunk = std::string_view(backend_buffer_.get(), n);
  }
}

asio::awaitable<Session::End> Session::watch_shutdown() {
  for (;;) {
    if (terminating_) co_return switch_timed_out_ ? End::kSwitchTimedOut : End::kTerminated;
    if (draining_ && idle()) co_return End::kDrained;
    shutdown_signal_.expires_at(Clock::time_point::max());
    co_await shutdown_signal_.async_wait();
    auto state = co_await asio::this_coro::cancellation_state;
    if (state.cancelled() != asio::cancellation_type::none) co_return End::kTerminated;
  }
}

asio::awaitable<Session::End> Session::watch_idle() {
  const auto limit = config_.timeouts.client_idle;
  Timer timer(co_await asio::this_coro::executor);
  for (;;) {
    auto deadline = last_activity_ + limit;
    // While a query runs the client is waiting, not idle: look again one period later.
    if (deadline <= Clock::now()) deadline = Clock::now() + limit;
    timer.expires_at(deadline);
    co_await timer.async_wait();
    auto state = co_await asio::this_coro::cancellation_state;
    if (state.cancelled() != asio::cancellation_type::none) co_return End::kClientClosed;
    if (pending_replies_ == 0 && Clock::now() - last_activity_ >= limit) {
      co_return End::kIdleTimeout;
    }
  }
}

// Which client messages the backend answers with a ReadyForQuery. PostgreSQL ignores a Sync
// that arrives while it is copying in (libpq sends one after Execute and one after CopyDone),
// so Syncs sent after the Execute that started a COPY are taken back when the COPY starts.
void Session::count_client_message(char type) {
  switch (type) {
    case 'Q':
      ++pending_replies_;
      syncs_since_execute_ = 0;
      break;
    case 'E':
      syncs_since_execute_ = 0;
      break;
    case 'F':
      ++pending_replies_;
      break;
    case 'S':
      if (!copy_in_) {
        ++pending_replies_;
        ++syncs_since_execute_;
      }
      break;
    case 'c':
    case 'f':
      copy_in_ = false;
      break;
    default:
      break;
  }
}

void Session::count_backend_message(char type, std::string_view body) {
  last_backend_type_ = type;
  if (type == 'Z' && body.size() == 1) {
    transaction_status_ = body[0];
    if (schema_changed_ && transaction_status_ == 'I') {
      schema_changed_ = false;
      ++context_.schema_version;
    }
    if (pending_replies_ > 0) --pending_replies_;
    last_activity_ = Clock::now();
  } else if (type == 'S') {
    note_parameter_status(body);
  } else if (type == 'G') {
    copy_in_ = true;
    pending_replies_ = std::max(0, pending_replies_ - syncs_since_execute_);
    syncs_since_execute_ = 0;
  }
}

bool Session::idle() const {
  return pending_replies_ == 0 && transaction_status_ == 'I' && client_scanner_.at_boundary() &&
         backend_scanner_.at_boundary();
}

bool Session::can_write_to_client() const {
  return client_write_whole_ && client_at_boundary_ && client_.is_open();
}

asio::awaitable<void> Session::finish(End end) {
  log::info("client_disconnected", {{"conn", id_},
                                    {"reason", end_name(end)},
                                    {"transaction_status", std::string(1, transaction_status_)}});
  switch (end) {
    case End::kClientProtocolError:
      log::warn("client_protocol_error",
                {{"conn", id_}, {"error", make_error_code(protocol_error_).message()}});
      co_await send_fatal("08P01", make_error_code(protocol_error_).message());
      break;
    case End::kBackendProtocolError:
      log::error("backend_protocol_error",
                 {{"conn", id_}, {"error", make_error_code(protocol_error_).message()}});
      co_await send_fatal("08P01", "protocol error in the database's reply: " +
                                       make_error_code(protocol_error_).message());
      break;
    case End::kBackendClosed:
      // A backend that ends a session normally says why (e.g. 57P01) before closing.
      if (last_backend_type_ != 'E') {
        co_await send_fatal("08006", "the database closed the connection unexpectedly");
      }
      break;
    case End::kIdleTimeout:
      co_await send_fatal("57P05", "terminating connection due to idle-session timeout");
      break;
    case End::kDrained:
    case End::kTerminated:
      co_await send_fatal("57P01", "terminating connection due to administrator command");
      break;
    case End::kSwitchRoles:
    case End::kSwitchImpossible:
      co_await send_fatal("57P01",
                          "terminating connection: the source of truth changed and this "
                          "session cannot follow it (its connection there is down); reconnect");
      break;
    case End::kSwitchTimedOut:
      co_await send_fatal("57P01",
                          "terminating connection: the source of truth is changing and this "
                          "session stayed inside a transaction longer than "
                          "control.switch_timeout_ms; the transaction was rolled back");
      break;
    case End::kClientClosed:
    case End::kClientTerminate:
      break;
  }
  // Tell the backend goodbye when its stream is at a message boundary, so the server ends the
  // session cleanly; otherwise closing the socket makes it roll back on its own.
  if (end != End::kClientTerminate && backend_write_whole_ && client_scanner_.at_boundary() &&
      backend_.is_open()) {
    std::string terminate;
    protocol::encode(protocol::Terminate{}, terminate);
    co_await write_bounded(backend_, terminate);
  }
  backend_.close();
  new_backend_.close();
  client_.close();
}

asio::awaitable<bool> Session::write_to_client(std::string_view bytes) {
  client_write_whole_ = false;
  ErrorCode ec = co_await client_.write(bytes);
  client_write_whole_ = !ec;
  co_return !ec;
}

asio::awaitable<void> Session::send_fatal(std::string_view sqlstate, std::string_view message) {
  if (!can_write_to_client()) co_return;
  std::string bytes;
  protocol::encode_error(bytes, "FATAL", sqlstate, message);
  co_await write_bounded(client_, bytes);
}

asio::awaitable<bool> Session::write_bounded(Stream& stream, std::string_view bytes) {
  auto result = co_await (stream.write(bytes) || sleep_for(kFinalWriteTimeout));
  co_return result.index() == 0 && !std::get<0>(result);
}

}  // namespace cutover::proxy
