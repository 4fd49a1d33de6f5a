// cutover's own units on the source of truth's connection (the primary link), and waiting
// for old's answers. The relay (Session::pump_backend()) reads everything old sends; what
// answers cutover's own messages is taken out of the client's stream by the ReplyFilter and
// handed over here once its ReadyForQuery came.
#include "proxy/net/stream_io.h"
#include "proxy/session/session.h"

namespace cutover::proxy {
namespace {

using Clock = std::chrono::steady_clock;

}  // namespace

// The client's messages queued for old, sent in one write.
asio::awaitable<bool> Session::forward_to_old(std::string& pending) {
  if (pending.empty()) co_return true;
  primary_.write_whole = false;
  ErrorCode ec = co_await write_all(primary_.stream, pending);
  pending.clear();
  primary_.write_whole = !ec;
  co_return !ec;
}

// A statement of cutover's own on old, its answer returned rows and all; nothing of it
// reaches the client.
asio::awaitable<std::optional<HeldAnswer>> Session::query_own(std::string_view sql) {
  std::string message;
  protocol::encode(protocol::Query{.sql = std::string(sql)}, message);
  primary_.filter.keep_answer(0);
  co_return co_await run_on_old(message, 1);
}

// Runs a unit of cutover's own on old (whole messages ending with a Query or a Sync), its
// answer taken out of the client's stream.
asio::awaitable<bool> Session::run_own(std::string_view messages) {
  primary_.filter.drop_answer(0);
  primary_.pending_replies += 1;
  primary_.write_whole = false;
  const ErrorCode ec = co_await write_all(primary_.stream, messages);
  if (ec) co_return false;
  primary_.write_whole = true;
  const bool answered = co_await wait_for_old();
  co_return answered;
}

// Sends cutover's messages (`units` units, their edits already registered) to old and waits
// for the held answer; nullopt when old's connection failed (the session then ends).
asio::awaitable<std::optional<HeldAnswer>> Session::run_on_old(std::string_view messages,
                                                               int units) {
  const auto started = Clock::now();
  primary_.pending_replies += units;
  primary_.write_whole = false;
  primary_.scanner.set_capture(
      BackendLink::kCaptureWithRows);  // the comparator hashes RETURNING rows
  ErrorCode ec = co_await write_all(primary_.stream, messages);
  if (ec) co_return std::nullopt;
  primary_.write_whole = true;
  const bool answered = co_await wait_for_old() && primary_.filter.has_held();
  primary_.scanner.set_capture(BackendLink::kCapture);
  if (!answered) co_return std::nullopt;
  context_.metrics.backend_duration(primary_.database,
                                    std::chrono::duration<double>(Clock::now() - started).count());
  co_return primary_.filter.take_held();
}

std::optional<HeldAnswer> Session::take_kept_answer() {
  if (!primary_.filter.has_held()) return std::nullopt;
  return primary_.filter.take_held();
}

// Until old owes no ReadyForQuery and its answers went out to the client; false when the
// session ends meanwhile.
asio::awaitable<bool> Session::wait_for_old() {
  while (primary_.pending_replies > 0 || primary_.chunk_unsent) {
    primary_.awaiting_answer = true;
    const bool woken = co_await primary_.answer_signal.wait();
    if (!woken) co_return false;
  }
  primary_.awaiting_answer = false;
  co_return true;
}

// The ReadyForQuery that ends a mirrored unit for the client, written the way new's answers
// are (never in the middle of something old's relay is writing).
asio::awaitable<bool> Session::send_ready_to_client(char status) {
  std::string ready;
  protocol::encode(protocol::ReadyForQuery{status}, ready);
  co_await client_.hold_writes();
  const bool sent = co_await client_.relay(ready);
  client_.release_writes();
  if (!sent) co_return false;
  last_activity_ = Clock::now();
  co_return true;
}

}  // namespace cutover::proxy
