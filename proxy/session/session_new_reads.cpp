// Reads the policy sends to new, in dual_write: run there when nothing is in flight on old, so
// answers stay in order; a read new fails before any byte of its answer went out (a connection
// error, a SQLSTATE from migration.fallback.sqlstates, no answer within fallback.timeout_ms) is
// run again on old; a sampled read is shadowed on old, and the comparator gets both answers.
// Not the classification and routing of units (session_routing.cpp, session_extended.cpp).
#include <random>

#include "protocol/backend.h"
#include "protocol/frontend.h"
#include "proxy/base/log.h"
#include "proxy/migration/mirror_journal.h"
#include "proxy/net/spawn.h"
#include "proxy/session/session.h"

namespace cutover::proxy {
namespace {

using Clock = std::chrono::steady_clock;

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

// Why a read routed to new was answered by old, and new's SQLSTATE where it gave one.
struct Fallback {
  Metrics::Fallback reason;
  std::string sqlstate{};
};

// As read_fallback logs it: "timeout", "sqlstate 40001", ...
std::string describe(const Fallback& fallback) {
  switch (fallback.reason) {
    case Metrics::Fallback::kConnection:
      return "connection";
    case Metrics::Fallback::kTimeout:
      return "timeout";
    case Metrics::Fallback::kPrepare:
      return "prepare " + fallback.sqlstate;
    case Metrics::Fallback::kSqlstate:
      return "sqlstate " + fallback.sqlstate;
  }
  return "unknown";
}

}  // namespace

// Runs a unit on new when the policy and the breaker say so and nothing is in flight on old;
// kOnOld when old must run it (not routed there, or new failed before any answer went out).
asio::awaitable<Session::NewRead> Session::try_new(std::string_view message,
                                                   const router::Classification& unit,
                                                   int prefix_replies,
                                                   std::string_view shadow_for_old) {
  // A journal waiting for replay means new lacks writes: its answers could be stale.
  const bool new_behind = context_.journal != nullptr && context_.journal->holds_records();
  if (!new_side_.ready() || new_behind || nonstandard_strings_ || primary_.pending_replies != 1 ||
      decide(unit).target != router::Backend::kNew || !context_.breaker.allow(Clock::now())) {
    co_return NewRead::kOnOld;
  }
  const bool shadow = !shadow_for_old.empty() && shadows(unit);
  --primary_.pending_replies;  // counted for old, answered by new
  const NewRead read = co_await run_on_new(message, unit, prefix_replies,
                                           shadow ? shadow_for_old : std::string_view());
  const bool answered = read == NewRead::kAnswered;
  if (!answered) ++primary_.pending_replies;
  if (auto changed = context_.breaker.record(answered, Clock::now())) {
    log::warn("circuit_breaker", {{"conn", id_}, {"state", router::to_string(*changed)}});
  }
  co_return read;
}

// `message` starts with `prefix_replies` messages that prepare statements new lacks; their
// answers are not the client's.
asio::awaitable<Session::NewRead> Session::run_on_new(std::string_view message,
                                                      const router::Classification& unit,
                                                      int prefix_replies,
                                                      std::string_view shadow_for_old) {
  const bool drained = co_await mirror_.drain_new();
  if (!drained) co_return NewRead::kOnOld;
  Fallback fallback{Metrics::Fallback::kConnection};
  // The wait includes the write: a write new does not take in time is cut short too.
  new_side_.begin_wait(context_.live.fallback_timeout());
  ErrorCode sent = co_await new_side_.send(message);
  if (sent) {
    if (new_side_.end_wait()) fallback.reason = Metrics::Fallback::kTimeout;
  } else {
    bool prefix_failed = false;
    auto first = co_await first_answer_from_new(prefix_replies, prefix_failed);
    if (new_side_.end_wait()) {
      fallback.reason = Metrics::Fallback::kTimeout;
    } else if (!first) {
      fallback.reason = Metrics::Fallback::kConnection;
    } else if (prefix_failed) {
      fallback.reason = Metrics::Fallback::kPrepare;
      fallback.sqlstate = sqlstate_of(*first);
      new_side_.expect_discard();  // its ReadyForQuery is still to come
    } else if (first->type == 'E' &&
               sqlstate_matches(config_.migration.fallback.sqlstates, sqlstate_of(*first))) {
      fallback.reason = Metrics::Fallback::kSqlstate;
      fallback.sqlstate = sqlstate_of(*first);
      new_side_.expect_discard();  // its ReadyForQuery is still to come
    } else {
      context_.metrics.backend_duration(secondary_.database,
                                        std::chrono::duration<double>(new_side_.waited()).count());
      // Counted before the answer goes out, so whoever got it finds it counted.
      context_.metrics.unit_routed(unit.kind, secondary_.database);
      if (shadow_for_old.empty()) {
        co_await stream_from_new(std::move(*first));
        co_return NewRead::kAnswered;
      }
      HeldAnswer seen;
      co_await stream_from_new(std::move(*first), &seen);
      co_await shadow_on_old(shadow_for_old, unit, seen);
      co_return NewRead::kAnswered;
    }
  }
  context_.metrics.read_fallback(fallback.reason);
  const auto waited = std::chrono::duration_cast<std::chrono::milliseconds>(new_side_.waited());
  log::warn("read_fallback", {{"conn", id_},
                              {"reason", describe(fallback)},
                              {"fingerprint", log::hex(unit.fingerprint)},
                              {"waited_ms", waited.count()}});
  if (fallback.reason == Metrics::Fallback::kTimeout && secondary_.key) {
    // Stop what new is still running for this read; without a cancel it would go on until it
    // next tried to write to the closed connection. On its own: the client must not wait on it.
    const BackendConfig& other = backend_target(config_, *secrets_, secondary_.database).config;
    asio::co_spawn(client_.stream.socket().get_executor(),
                   send_cancel_request({other.host, other.port, secondary_.key->process_id,
                                        secondary_.key->secret_key},
                                       config_.timeouts.backend_connect),
                   LogEscaped("cancel_request_failed"));
  }
  if (fallback.reason == Metrics::Fallback::kTimeout) new_side_.drop("timeout");
  if (fallback.reason == Metrics::Fallback::kConnection) new_side_.drop("connection");
  co_return NewRead::kOnOld;
}

// new's first answer to a unit, after the answers to the statements cutover prepared first.
asio::awaitable<std::optional<Message>> Session::first_answer_from_new(int prefix_replies,
                                                                       bool& prefix_failed) {
  protocol::ProtocolError error{};
  for (;;) {
    auto message = co_await new_side_.next(error);
    if (!message || prefix_replies == 0) co_return message;
    if (message->type == 'E') {
      prefix_failed = true;
      co_return message;
    }
    if (message->type == '1' || message->type == '3') --prefix_replies;
  }
}

// Relays new's answer to the client up to its ReadyForQuery, as the bytes came (whole
// messages are found in place, not copied one by one). Once bytes went out a failure can no
// longer be hidden: the client gets an error and a ReadyForQuery so the session goes on. A
// client gone meanwhile is noticed by the relay's reads.
asio::awaitable<void> Session::stream_from_new(Message first, HeldAnswer* seen) {
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
    size_t whole = 0;  // bytes of secondary_.in that are whole messages of this answer
    protocol::FrameResult frame;
    while ((frame = protocol::next_frame(std::string_view(secondary_.in).substr(whole),
                                         kMaxBackendMessage))
               .status == protocol::FrameStatus::kFrame) {
      whole += frame.consumed;
      note(frame.type, frame.body);
      if (frame.type == 'Z') {
        complete = true;
        break;
      }
    }
    out.append(secondary_.in, 0, whole);
    secondary_.in.erase(0, whole);
    if (complete) break;
    if (out.size() >= kClientFlushBytes) {
      client_gone = !co_await relay_to_client(out);
      out.clear();
    }
    ErrorCode ec = asio::error::invalid_argument;  // a framing error in new's answer
    if (frame.status != protocol::FrameStatus::kError) ec = co_await new_side_.read_more();
    if (ec) {
      new_side_.drop("lost mid-answer");
      protocol::encode_error(out, "ERROR", "08006",
                             "the new database closed the connection during this query");
      protocol::encode(protocol::ReadyForQuery{primary_.status}, out);
      break;
    }
  }
  if (!client_gone) co_await relay_to_client(out);
  release_client_writes();
  if (seen != nullptr) {
    seen->rows = rows.rows();
    seen->rows_digest = rows.digest();
  }
}

// A read new answered, sampled for a shadow read: old runs it too, its answer taken out of the
// client's stream, and the comparator gets both (the client has new's already).
asio::awaitable<void> Session::shadow_on_old(std::string_view for_old,
                                             const router::Classification& unit,
                                             const HeldAnswer& on_new) {
  if (!on_new.sqlstate.empty()) co_return;
  primary_.filter.compare_answer(0);
  auto on_old = co_await run_on_old(for_old, 1);
  if (!on_old || !on_old->sqlstate.empty()) co_return;
  mirror_.compare({on_old->tags, on_old->rows, on_old->rows_digest},
                  {on_new.tags, on_new.rows, on_new.rows_digest}, unit, unit.nondeterministic,
                  true);
}

// Like write_to_client(), but without a trip through the scheduler when the client's socket
// (non-blocking once the relay runs) takes the bytes at once, as old's relay writes.
asio::awaitable<bool> Session::relay_to_client(std::string_view bytes) {
  client_.write_whole = false;
  ErrorCode ec = co_await write_all(client_.stream, bytes);
  client_.write_whole = !ec;
  co_return !ec;
}

// The ReadyForQuery that ends a mirrored unit for the client, written the way new's answers
// are (never in the middle of something old's relay is writing).
asio::awaitable<bool> Session::send_ready_to_client(char status) {
  std::string ready;
  protocol::encode(protocol::ReadyForQuery{status}, ready);
  co_await hold_client_writes();
  const bool sent = co_await relay_to_client(ready);
  release_client_writes();
  if (!sent) co_return false;
  last_activity_ = Clock::now();
  co_return true;
}

// Keeps old's relay from writing to the client (it waits in wait_for_client_writes()) until
// release_client_writes(), once a write it had begun is complete.
asio::awaitable<void> Session::hold_client_writes() {
  client_.writes_held = true;
  while (!client_.write_whole) co_await wait_for_client_writes();
}

void Session::release_client_writes() {
  client_.writes_held = false;
  client_.writes_signal.notify();
}

asio::awaitable<void> Session::wait_for_client_writes() { co_await client_.writes_signal.wait(); }

// Whether this read, which old is about to run, is sampled for a shadow read on new: a Query
// or a whole extended batch, outside transactions, while new has every write and nothing else
// is in flight.
bool Session::shadows(const router::Classification& unit) {
  const uint32_t share = context_.live.shadow_reads();
  if (share == 0 || context_.comparator == nullptr) return false;
  if (unit.kind != router::Kind::kRead || primary_.status != 'I' || primary_.pending_replies != 1 ||
      !new_side_.ready() || nonstandard_strings_ || context_.journal->holds_records()) {
    return false;
  }
  thread_local std::minstd_rand sample(std::random_device{}());
  return sample() % 10000 < share;
}

}  // namespace cutover::proxy
