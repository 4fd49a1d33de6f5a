#include "proxy/session/new_reads.h"

#include <random>

#include "protocol/backend.h"
#include "protocol/frontend.h"
#include "proxy/base/log.h"
#include "proxy/migration/mirror_journal.h"
#include "proxy/net/spawn.h"

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

NewReads::NewReads(Mirror::Host& old, Parts parts, ProxyContext& context, const Secrets& secrets,
                   uint64_t conn_id)
    : old_(old), parts_(parts), context_(context), secrets_(secrets), conn_id_(conn_id) {}

asio::awaitable<NewRead> NewReads::try_new(std::string_view message,
                                           const router::Classification& unit, int prefix_replies,
                                           std::string_view shadow_for_old) {
  // A journal waiting for replay means new lacks writes: its answers could be stale.
  const bool new_behind = context_.journal != nullptr && context_.journal->holds_records();
  if (!parts_.new_side.ready() || new_behind || parts_.primary.pending_replies != 1 ||
      !context_.breaker.allow(Clock::now())) {
    co_return NewRead::kOnOld;
  }
  const bool shadow = !shadow_for_old.empty() && shadows(unit);
  --parts_.primary.pending_replies;  // counted for old, answered by new
  const NewRead read = co_await run_on_new(message, unit, prefix_replies,
                                           shadow ? shadow_for_old : std::string_view());
  const bool answered = read == NewRead::kAnswered;
  if (!answered) ++parts_.primary.pending_replies;
  if (auto changed = context_.breaker.record(answered, Clock::now())) {
    log::warn("circuit_breaker", {{"conn", conn_id_}, {"state", router::to_string(*changed)}});
  }
  co_return read;
}

// `message` starts with `prefix_replies` messages that prepare statements new lacks; their
// answers are not the client's.
asio::awaitable<NewRead> NewReads::run_on_new(std::string_view message,
                                              const router::Classification& unit,
                                              int prefix_replies, std::string_view shadow_for_old) {
  const bool drained = co_await parts_.mirror.drain_new();
  if (!drained) co_return NewRead::kOnOld;
  Fallback fallback{Metrics::Fallback::kConnection};
  // The wait includes the write: a write new does not take in time is cut short too.
  parts_.new_side.begin_wait(context_.live.fallback_timeout());
  ErrorCode sent = co_await parts_.new_side.send(message);
  if (sent) {
    if (parts_.new_side.end_wait()) fallback.reason = Metrics::Fallback::kTimeout;
  } else {
    bool prefix_failed = false;
    auto first = co_await first_answer_from_new(prefix_replies, prefix_failed);
    if (parts_.new_side.end_wait()) {
      fallback.reason = Metrics::Fallback::kTimeout;
    } else if (!first) {
      fallback.reason = Metrics::Fallback::kConnection;
    } else if (prefix_failed) {
      fallback.reason = Metrics::Fallback::kPrepare;
      fallback.sqlstate = sqlstate_of(*first);
      parts_.new_side.expect_discard();  // its ReadyForQuery is still to come
    } else if (first->type == 'E' && sqlstate_matches(context_.config.migration.fallback.sqlstates,
                                                      sqlstate_of(*first))) {
      fallback.reason = Metrics::Fallback::kSqlstate;
      fallback.sqlstate = sqlstate_of(*first);
      parts_.new_side.expect_discard();  // its ReadyForQuery is still to come
    } else {
      context_.metrics.backend_duration(
          parts_.secondary.database,
          std::chrono::duration<double>(parts_.new_side.waited()).count());
      // Counted before the answer goes out, so whoever got it finds it counted.
      context_.metrics.unit_routed(unit.kind, parts_.secondary.database);
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
  const auto waited =
      std::chrono::duration_cast<std::chrono::milliseconds>(parts_.new_side.waited());
  log::warn("read_fallback", {{"conn", conn_id_},
                              {"reason", describe(fallback)},
                              {"fingerprint", log::hex(unit.fingerprint)},
                              {"waited_ms", waited.count()}});
  if (fallback.reason == Metrics::Fallback::kTimeout && parts_.secondary.key) {
    // Stop what new is still running for this read; without a cancel it would go on until it
    // next tried to write to the closed connection. On its own: the client must not wait on it.
    const BackendConfig& other =
        backend_target(context_.config, secrets_, parts_.secondary.database).config;
    asio::co_spawn(parts_.client.stream.socket().get_executor(),
                   send_cancel_request({other.host, other.port, parts_.secondary.key->process_id,
                                        parts_.secondary.key->secret_key},
                                       context_.config.timeouts.backend_connect),
                   LogEscaped("cancel_request_failed"));
  }
  if (fallback.reason == Metrics::Fallback::kTimeout) parts_.new_side.drop("timeout");
  if (fallback.reason == Metrics::Fallback::kConnection) parts_.new_side.drop("connection");
  co_return NewRead::kOnOld;
}

// new's first answer to a unit, after the answers to the statements cutover prepared first.
asio::awaitable<std::optional<Message>> NewReads::first_answer_from_new(int prefix_replies,
                                                                        bool& prefix_failed) {
  protocol::ProtocolError error{};
  for (;;) {
    auto message = co_await parts_.new_side.next(error);
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
asio::awaitable<void> NewReads::stream_from_new(Message first, HeldAnswer* seen) {
  co_await parts_.client.hold_writes();
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
    size_t whole = 0;  // bytes of parts_.secondary.in that are whole messages of this answer
    protocol::FrameResult frame;
    while ((frame = protocol::next_frame(std::string_view(parts_.secondary.in).substr(whole),
                                         kMaxBackendMessage))
               .status == protocol::FrameStatus::kFrame) {
      whole += frame.consumed;
      note(frame.type, frame.body);
      if (frame.type == 'Z') {
        complete = true;
        break;
      }
    }
    out.append(parts_.secondary.in, 0, whole);
    parts_.secondary.in.erase(0, whole);
    if (complete) break;
    if (out.size() >= kClientFlushBytes) {
      client_gone = !co_await parts_.client.relay(out);
      out.clear();
    }
    ErrorCode ec = asio::error::invalid_argument;  // a framing error in new's answer
    if (frame.status != protocol::FrameStatus::kError) ec = co_await parts_.new_side.read_more();
    if (ec) {
      parts_.new_side.drop("lost mid-answer");
      protocol::encode_error(out, "ERROR", "08006",
                             "the new database closed the connection during this query");
      protocol::encode(protocol::ReadyForQuery{parts_.primary.status}, out);
      break;
    }
  }
  if (!client_gone) co_await parts_.client.relay(out);
  parts_.client.release_writes();
  if (seen != nullptr) {
    seen->rows = rows.rows();
    seen->rows_digest = rows.digest();
  }
}

// A read new answered, sampled for a shadow read: old runs it too, its answer taken out of the
// client's stream, and the comparator gets both (the client has new's already).
asio::awaitable<void> NewReads::shadow_on_old(std::string_view for_old,
                                              const router::Classification& unit,
                                              const HeldAnswer& on_new) {
  if (!on_new.sqlstate.empty()) co_return;
  parts_.primary.filter.compare_answer(0);
  auto on_old = co_await old_.run_on_old(for_old, 1);
  if (!on_old || !on_old->sqlstate.empty()) co_return;
  parts_.mirror.compare({on_old->tags, on_old->rows, on_old->rows_digest},
                        {on_new.tags, on_new.rows, on_new.rows_digest}, unit, unit.nondeterministic,
                        true);
}

bool NewReads::shadows(const router::Classification& unit) {
  const uint32_t share = context_.live.shadow_reads();
  if (share == 0 || context_.comparator == nullptr) return false;
  if (unit.kind != router::Kind::kRead || parts_.primary.status != 'I' ||
      parts_.primary.pending_replies != 1 || !parts_.new_side.ready() ||
      context_.journal->holds_records()) {
    return false;
  }
  thread_local std::minstd_rand sample(std::random_device{}());
  return sample() % 10000 < share;
}

}  // namespace cutover::proxy
