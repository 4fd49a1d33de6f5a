// Read routing in dual_write: each unit of work (a simple-protocol Query here, an
// extended-query batch in session_extended.cpp) is classified; reads the policy sends to new
// run there, and a read that new fails before any byte of its answer went out (a connection
// error, a SQLSTATE from migration.fallback.sqlstates, no answer within fallback.timeout_ms)
// is run again on old. Everything else goes to old as in pass-through, and session state is
// copied to new so its reads see the same settings.
#include "protocol/backend.h"
#include "protocol/frontend.h"
#include "proxy/log.h"
#include "proxy/mirror_journal.h"
#include "proxy/session.h"

namespace cutover::proxy {
namespace {

using Clock = std::chrono::steady_clock;

constexpr size_t kMaxBackendMessage = size_t{1} << 30;
constexpr size_t kClientFlushBytes = size_t{64} * 1024;

bool sqlstate_matches(const std::vector<std::string>& patterns, std::string_view sqlstate) {
  for (const auto& p : patterns) {
    if (p.ends_with('*') ? sqlstate.starts_with(std::string_view(p).substr(0, p.size() - 1))
                         : sqlstate == p) {
      return true;
    }
  }
  return false;
}

std::string sqlstate_of(const Message& error) {
  auto decoded = protocol::decode_backend(error.type, error.body);
  if (!decoded) return "";
  return std::string(std::get<protocol::ErrorFields>(*decoded).get('C').value_or(""));
}

}  // namespace

bool Session::routing() const { return context_.mirroring; }

// One classification cache per worker thread: sessions on a thread share it without locks.
const router::Classification& Session::classify(std::string_view sql) {
  thread_local router::ClassificationCache cache(context_.classifier, 10000);
  return cache.classify(sql);
}

// Takes whole messages from the client. A Query, or an extended-query batch up to its Sync,
// that is a read routed to new runs there (when nothing is in flight on old, so answers stay
// in order); all else goes to old unchanged.
asio::awaitable<Session::End> Session::pump_client_routed() {
  std::string pending;  // messages for old, sent in one write
  const asio::mutable_buffer window(client_buffer_.get(), config_.limits.buffer_bytes);
  bool buffer_filled = false;
  for (;;) {
    for (;;) {
      auto frame = protocol::next_frame(client_in_, config_.limits.max_message_bytes);
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
      std::string_view whole(client_in_.data(), frame.consumed);
      count_client_message(frame.type);
      bool sent = true;
      const bool copy_message = std::string_view("dcf").find(frame.type) != std::string_view::npos;
      if (copy_mirrored_ && !copy_message) end_mirrored_copy();  // old refused the COPY
      if (copy_mirrored_) {
        sent = co_await mirror_copy_data(frame.type, whole, pending);
      } else if (copy_in_) {
        pending.append(whole);
      } else if (frame.type == 'Q') {
        sent = co_await route_query(frame.body, whole, pending);
      } else if (std::string_view("PBDECSH").find(frame.type) != std::string_view::npos) {
        sent = co_await route_extended(frame.type, whole, pending);
      } else {
        sent = co_await commit_batch_to_old(pending);
        if (frame.type == 'F') note_unit({.kind = router::Kind::kUnknown});  // a function call
        pending.append(whole);
      }
      if (!sent) co_return End::kBackendClosed;
      bool terminate = frame.type == 'X';
      client_in_.erase(0, frame.consumed);
      if (terminate) {
        co_await forward_to_old(pending);
        co_return End::kClientTerminate;
      }
    }
    // A batch not whole by now goes to old as it comes: holding it could stall a client that
    // waits for answers before it sends the rest.
    bool sent = co_await commit_batch_to_old(pending);
    if (sent) sent = co_await forward_to_old(pending);
    if (!sent) co_return End::kBackendClosed;
    auto [ec, n] = co_await read_ready(client_, window, buffer_filled);
    if (ec) co_return End::kClientClosed;
    last_activity_ = Clock::now();
    client_in_.append(client_buffer_.get(), n);
  }
}

// One simple-protocol Query: classified, then run on new or queued for old.
asio::awaitable<bool> Session::route_query(std::string_view body, std::string_view whole,
                                           std::string& pending) {
  if (!co_await commit_batch_to_old(pending)) co_return false;
  // A copy: the cache may evict its entry while this session waits on new.
  const router::Classification unit = classify(body.substr(0, body.find('\0')));
  if (transaction_status_ == 'I') view_.read_only_transaction = false;
  note_unit(unit);
  forget_prepared(unit);
  if (!co_await forward_to_old(pending)) co_return false;
  statements_.new_lost_unnamed();  // any Query may reach new, and destroys it there
  bool on_new = false;
  if (!mirrors(unit) && !unit.copies_in && unit.kind != router::Kind::kSession) {
    on_new = co_await try_new(whole, unit, 0, whole);
  }
  if (on_new) co_return true;  // counted by run_on_new()
  context_.metrics.unit_routed(unit.kind, database_of(router::Backend::kOld));
  if (mirrors(unit)) co_return co_await mirror_query(whole, unit, pending);
  if (unit.copies_in && context_.journal != nullptr && !mirror_retired_)
    co_return co_await mirror_copy(whole, unit);
  if (unit.kind == router::Kind::kSession) {
    log_session_state(whole);
    if (new_ready_) co_await copy_to_new(whole);
  } else if (shadows(unit)) {
    co_return co_await shadow_read(whole, whole, unit, pending);
  }
  pending.append(whole);
  co_return true;
}

asio::awaitable<bool> Session::forward_to_old(std::string& pending) {
  if (pending.empty()) co_return true;
  backend_write_whole_ = false;
  ErrorCode ec = co_await write_all(backend_, pending);
  pending.clear();
  backend_write_whole_ = !ec;
  co_return !ec;
}

// Runs a unit on new when the policy and the breaker say so and nothing is in flight on old;
// false when old must run it (not routed, or new failed before any answer went out).
asio::awaitable<bool> Session::try_new(std::string_view message, const router::Classification& unit,
                                       int prefix_replies, std::string_view shadow_for_old) {
  // A journal waiting for replay means new lacks writes: its answers could be stale.
  const bool new_behind = context_.journal != nullptr && context_.journal->holds_records();
  if (!new_ready_ || new_behind || nonstandard_strings_ || pending_replies_ != 1 ||
      decide(unit).target != router::Backend::kNew || !context_.breaker.allow(Clock::now())) {
    co_return false;
  }
  const bool shadow = !shadow_for_old.empty() && shadows(unit);
  --pending_replies_;  // counted for old, answered by new
  bool routed = co_await run_on_new(message, unit, prefix_replies,
                                    shadow ? shadow_for_old : std::string_view());
  if (!routed) ++pending_replies_;
  if (auto changed = context_.breaker.record(routed, Clock::now())) {
    log::warn("circuit_breaker", {{"conn", id_}, {"state", router::to_string(*changed)}});
  }
  co_return routed;
}

// The policy's decision, its target turned into this session's connection (database_of()).
// Outside dual_write every unit belongs to the source of truth, whose connection is backend_
// even while a role switch is still to reach this session.
router::Decision Session::decide(const router::Classification& unit) {
  view_.in_transaction = transaction_status_ != 'I';
  const router::Phase phase = context_.control.phase();
  router::Decision decision = router::route(phase, context_.control.read_ramp(), context_.policy,
                                            view_, unit, Clock::now());
  decision.target =
      phase == router::Phase::kDualWrite ? database_of(decision.target) : router::Backend::kOld;
  return decision;
}

// Keeps what the policy needs to know: writes (read-your-writes), READ ONLY transactions, and
// session state that new must share.
// `unit` (DEALLOCATE, DISCARD ALL) removes prepared statements, maybe cutover's too.
void Session::forget_prepared(const router::Classification& unit) {
  statements_.forget(unit);
  if (unit.forgets_prepared) pinnings_lost(true);
}

void Session::note_unit(const router::Classification& unit) {
  using router::Kind;
  if (unit.kind == Kind::kWrite || unit.kind == Kind::kDdl || unit.kind == Kind::kUnknown) {
    view_.has_written = true;
    view_.last_write = Clock::now();
  }
  if (unit.creates_temporary) view_.has_temporary = true;
  if (unit.kind == Kind::kDdl) {
    ++context_.schema_version;
    schema_changed_ = true;
  }
  if (unit.kind == Kind::kSession) {  // search_path may have changed what names mean
    forget_table_defaults();
    forget_bound_pinnings();
  }
  if (unit.kind == Kind::kTransaction && unit.read_only_transaction) {
    view_.read_only_transaction = true;
  }
}

void Session::note_parameter_status(std::string_view body) {
  auto status = protocol::decode_backend('S', body);
  if (!status) return;
  const auto& parameter = std::get<protocol::ParameterStatus>(*status);
  if (parameter.name == "standard_conforming_strings") {
    nonstandard_strings_ = parameter.value != "on";
  }
}

// `message` starts with `prefix_replies` messages that prepare statements new lacks; their
// answers are not the client's.
asio::awaitable<bool> Session::run_on_new(std::string_view message,
                                          const router::Classification& unit, int prefix_replies,
                                          std::string_view shadow_for_old) {
  if (!co_await drain_new()) co_return false;
  std::string fallback_reason;
  new_read_started_ = Clock::now();
  new_wait_limit_ = context_.live.fallback_timeout();
  ErrorCode sent = co_await write_all(new_backend_, message);
  if (sent) {
    fallback_reason = "connection";
  } else {
    bool prefix_failed = false;
    new_read_timed_out_ = false;
    awaiting_new_ = true;
    auto first = co_await first_answer_from_new(prefix_replies, prefix_failed);
    awaiting_new_ = false;
    if (new_read_timed_out_) {
      fallback_reason = "timeout";
    } else if (!first) {
      fallback_reason = "connection";
    } else if (prefix_failed) {
      fallback_reason = "prepare " + sqlstate_of(*first);
      ++new_replies_to_discard_;  // its ReadyForQuery is still to come
    } else if (first->type == 'E' &&
               sqlstate_matches(config_.migration.fallback.sqlstates, sqlstate_of(*first))) {
      fallback_reason = "sqlstate " + sqlstate_of(*first);
      ++new_replies_to_discard_;  // its ReadyForQuery is still to come
    } else {
      context_.metrics.backend_duration(
          database_of(router::Backend::kNew),
          std::chrono::duration<double>(Clock::now() - new_read_started_).count());
      // Counted before the answer goes out, so whoever got it finds it counted.
      context_.metrics.unit_routed(unit.kind, database_of(router::Backend::kNew));
      if (shadow_for_old.empty()) co_return co_await stream_from_new(std::move(*first));
      HeldAnswer seen;
      const bool streamed = co_await stream_from_new(std::move(*first), &seen);
      if (streamed) co_await shadow_on_old(shadow_for_old, unit, seen);
      co_return streamed;
    }
  }
  context_.metrics.read_fallback(fallback_reason);
  const auto waited =
      std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - new_read_started_);
  log::warn("read_fallback", {{"conn", id_},
                              {"reason", fallback_reason},
                              {"fingerprint", log::hex(unit.fingerprint)},
                              {"waited_ms", waited.count()}});
  if (fallback_reason == "timeout" && new_key_) {
    // Stop what new is still running for this read; without a cancel it would go on until it
    // next tried to write to the closed connection. Detached: the client must not wait on it.
    const BackendConfig& other =
        backend_target(config_, *secrets_, database_of(router::Backend::kNew)).config;
    asio::co_spawn(
        client_.socket().get_executor(),
        send_cancel_request({other.host, other.port, new_key_->process_id, new_key_->secret_key},
                            config_.timeouts.backend_connect),
        asio::detached);
  }
  if (fallback_reason == "timeout" || fallback_reason == "connection") {
    drop_new(fallback_reason);
  }
  co_return false;
}

// new's first answer to a unit, after the answers to the statements cutover prepared first.
asio::awaitable<std::optional<Message>> Session::first_answer_from_new(int prefix_replies,
                                                                       bool& prefix_failed) {
  protocol::ProtocolError error{};
  for (;;) {
    auto message = co_await next_from_new(error);
    if (!message || prefix_replies == 0) co_return message;
    if (message->type == 'E') {
      prefix_failed = true;
      co_return message;
    }
    if (message->type == '1' || message->type == '3') --prefix_replies;
  }
}

// Reads what new sent into new_in_, the way old's relay reads (see read_ready): a routed read
// then costs about the syscalls and scheduler trips of one relayed by old.
asio::awaitable<ErrorCode> Session::read_from_new() {
  const asio::mutable_buffer window(new_buffer_.get(), config_.limits.buffer_bytes);
  bool buffer_filled = false;  // each call waits for readiness first: answers are small
  auto [ec, n] = co_await read_ready(new_backend_, window, buffer_filled);
  if (!ec) new_in_.append(new_buffer_.get(), n);
  co_return ec;
}

// The next whole message from new; nullopt when new closed, failed or sent a bad frame.
asio::awaitable<std::optional<Message>> Session::next_from_new(protocol::ProtocolError& error) {
  for (;;) {
    auto frame = protocol::next_frame(new_in_, kMaxBackendMessage);
    if (frame.status == protocol::FrameStatus::kFrame) {
      Message message{frame.type, std::string(frame.body)};
      new_in_.erase(0, frame.consumed);
      co_return message;
    }
    if (frame.status == protocol::FrameStatus::kError) {
      error = frame.error;
      co_return std::nullopt;
    }
    ErrorCode ec = co_await read_from_new();
    if (ec) co_return std::nullopt;
  }
}

// Relays new's answer to the client up to its ReadyForQuery, as the bytes came (whole
// messages are found in place, not copied one by one). Once bytes went out a failure can no
// longer be hidden: the client gets an error and a ReadyForQuery so the session goes on.
asio::awaitable<bool> Session::stream_from_new(Message first, HeldAnswer* seen) {
  co_await hold_client_writes();
  verify::RowSetHasher rows;
  auto note = [&](char type, std::string_view body) {  // what a shadow read compares
    if (seen == nullptr) return;
    if (type == 'C') seen->tags.emplace_back(body.substr(0, body.find('\0')));
    if (type == 'E') seen->sqlstate = "error";
    if (type == 'D') rows.add_data_row(body);
  };
  note(first.type, first.body);
  std::string out;
  append_message(out, first.type, first.body);
  bool complete = first.type == 'Z';
  bool client_gone = false;
  while (!complete && !client_gone) {
    size_t whole = 0;  // bytes of new_in_ that are whole messages of this answer
    protocol::FrameResult frame;
    while (
        (frame = protocol::next_frame(std::string_view(new_in_).substr(whole), kMaxBackendMessage))
            .status == protocol::FrameStatus::kFrame) {
      whole += frame.consumed;
      note(frame.type, frame.body);
      if (frame.type == 'Z') {
        complete = true;
        break;
      }
    }
    out.append(new_in_, 0, whole);
    new_in_.erase(0, whole);
    if (complete) break;
    if (out.size() >= kClientFlushBytes) {
      client_gone = !co_await relay_to_client(out);
      out.clear();
    }
    ErrorCode ec = asio::error::invalid_argument;  // a framing error in new's answer
    if (frame.status != protocol::FrameStatus::kError) ec = co_await read_from_new();
    if (ec) {
      drop_new("lost mid-answer");
      protocol::encode_error(out, "ERROR", "08006",
                             "the new database closed the connection during this query");
      protocol::encode(protocol::ReadyForQuery{transaction_status_}, out);
      break;
    }
  }
  if (!client_gone) co_await relay_to_client(out);
  release_client_writes();
  if (seen != nullptr) {
    seen->rows = rows.rows();
    seen->rows_digest = rows.digest();
  }
  co_return true;
}

// A read new answered, sampled for a shadow read: old runs it too, its answer taken out of the
// client's stream, and the comparator gets both (the client has new's already).
asio::awaitable<void> Session::shadow_on_old(std::string_view for_old,
                                             const router::Classification& unit,
                                             const HeldAnswer& on_new) {
  if (!on_new.sqlstate.empty()) co_return;
  old_filter_.compare_answer(0);
  auto on_old = co_await run_on_old(for_old, 1);
  if (!on_old || !on_old->sqlstate.empty()) co_return;
  compare({on_old->tags, on_old->rows, on_old->rows_digest},
          {on_new.tags, on_new.rows, on_new.rows_digest}, unit, unit.nondeterministic, true);
}

// Like write_to_client(), but without a trip through the scheduler when the client's socket
// (non-blocking once the relay runs) takes the bytes at once, as old's relay writes.
asio::awaitable<bool> Session::relay_to_client(std::string_view bytes) {
  client_write_whole_ = false;
  ErrorCode ec = co_await write_all(client_, bytes);
  client_write_whole_ = !ec;
  co_return !ec;
}

// Keeps old's relay from writing to the client (it waits in wait_for_client_writes()) until
// release_client_writes(), once a write it had begun is complete.
asio::awaitable<void> Session::hold_client_writes() {
  client_writes_held_ = true;
  while (!client_write_whole_) co_await wait_for_client_writes();
}

void Session::release_client_writes() {
  client_writes_held_ = false;
  client_writes_signal_.cancel();
}

asio::awaitable<void> Session::wait_for_client_writes() {
  client_writes_signal_.expires_at(Clock::time_point::max());
  co_await client_writes_signal_.async_wait();
}

// Reads new's answers to writes sent ahead (parallel ordering), then reads and drops its
// answers to session state copied there, so the next use of new starts clean.
asio::awaitable<bool> Session::drain_new() {
  co_await settle_pending_mirror();  // parallel ordering: what new owes for writes comes first
  protocol::ProtocolError error{};
  while (new_replies_to_discard_ > 0) {
    auto message = co_await next_from_new(error);
    if (!message) {
      drop_new("lost");
      co_return false;
    }
    // new did not take a setting old took: its reads could differ, so it serves no more.
    // (Not 26000: a DEALLOCATE of a statement cutover had not yet prepared on new.)
    if (message->type == 'E' && sqlstate_of(*message) != "26000") {
      log::warn("new_session_state_failed", {{"conn", id_}, {"error", error_message(*message)}});
      drop_new("session state");
      co_return false;
    }
    if (message->type == 'Z') --new_replies_to_discard_;
  }
  co_return true;
}

}  // namespace cutover::proxy
