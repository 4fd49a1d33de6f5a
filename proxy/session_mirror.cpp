// Mirroring in dual_write (simple protocol): a write runs on old, the source of truth, and then
// on new, the mirror, over the session's connection to new; the client sees old's answer only.
//
// Strict ordering: old's ReadyForQuery for a mirrored unit is held back until new has run the
// unit too, and the client's next unit waits for both. So when a COMMIT reaches old, new has
// already executed the transaction's writes and holds their row locks; a conflicting writer
// blocked on old by those locks reaches new only after them. An autocommit write would release
// its locks on old before new runs it, so cutover wraps it: BEGIN and the write go to old, then
// BEGIN and the write to new, then COMMIT to old and, with old's outcome, COMMIT or ROLLBACK to
// new; the client sees the write's own answer and a ReadyForQuery saying idle.
#include "proxy/log.h"
#include "proxy/session.h"

namespace cutover::proxy {
namespace {

using Clock = std::chrono::steady_clock;

void append_query(std::string& out, std::string_view sql) {
  std::string body(sql);
  body.push_back('\0');
  append_message(out, 'Q', body);
}

std::string join(const std::vector<std::string>& tags) {
  std::string out;
  for (const auto& tag : tags) out += (out.empty() ? "" : ", ") + tag;
  return out;
}

}  // namespace

bool Session::mirrors(const router::Classification& unit) const {
  using router::Kind;
  if (unit.copies_in) return false;  // COPY's data comes later from the client: not yet
  return unit.kind == Kind::kWrite || unit.kind == Kind::kDdl || unit.kind == Kind::kUnknown ||
         unit.kind == Kind::kTransaction;
}

// Whether an autocommit unit gets cutover's BEGIN and COMMIT around it (see the top).
bool Session::wraps(const router::Classification& unit) const {
  using router::Kind;
  return transaction_status_ == 'I' && (unit.kind == Kind::kWrite || unit.kind == Kind::kUnknown) &&
         !unit.controls_transaction && !unit.refuses_transaction_block;
}

asio::awaitable<bool> Session::mirror_query(std::string_view whole,
                                            const router::Classification& unit,
                                            std::string& pending) {
  if (!co_await forward_to_old(pending)) co_return false;
  --pending_replies_;  // counted when the client sent it; run_on_old() counts what goes out
  if (!co_await wait_for_old()) co_return false;  // the wrap decision needs old's status
  const bool wrap = wraps(unit);
  std::string to_old;
  if (wrap) {
    append_query(to_old, "BEGIN");
    old_filter_.drop_answer(0);
  }
  old_filter_.hold_ready(wrap ? 1 : 0, false);
  to_old.append(whole);
  auto answer = co_await run_on_old(to_old, wrap ? 2 : 1);
  if (!answer) co_return false;
  if (!answer->sqlstate.empty()) {
    // Old refused it: nothing of it reaches new. A wrapped write is rolled back on old; a
    // transaction old ended with the error ends on new too.
    if (wrap && !co_await run_own_on_old("ROLLBACK")) co_return false;
    const char status = wrap ? 'I' : answer->status;
    if (status == 'I') co_await end_mirror_transaction(false);
    co_return co_await send_ready(status);
  }
  // A COMMIT old answered with ROLLBACK (its transaction had failed) rolls new back too.
  const bool old_rolled_back =
      answer->status == 'I' && !answer->tags.empty() && answer->tags.back() == "ROLLBACK";
  std::string to_new;
  if (wrap) append_query(to_new, "BEGIN");
  if (old_rolled_back) {
    append_query(to_new, "ROLLBACK");
  } else {
    to_new.append(whole);
  }
  co_await run_on_mirror(to_new, wrap, unit, old_rolled_back ? nullptr : &answer->tags);
  char status = answer->status;
  if (wrap) {
    to_old.clear();
    append_query(to_old, "COMMIT");
    old_filter_.hold_ready(0, true);  // its tag is cutover's; an error still reaches the client
    auto committed = co_await run_on_old(to_old, 1);
    if (!committed) co_return false;
    status = committed->status;
    co_await end_mirror_transaction(committed->sqlstate.empty());
  } else if (status == 'I') {
    co_await end_mirror_transaction(false);  // only acts when new's transaction broke
  }
  co_return co_await send_ready(status);
}

// Runs a statement of cutover's own on old, its answer taken out of the client's stream.
asio::awaitable<bool> Session::run_own_on_old(std::string_view sql) {
  std::string message;
  append_query(message, sql);
  old_filter_.drop_answer(0);
  pending_replies_ += 1;
  backend_write_whole_ = false;
  if (co_await write_all(backend_, message)) co_return false;
  backend_write_whole_ = true;
  co_return co_await wait_for_old();
}

// Sends cutover's messages (`units` units, their edits already registered) to old and waits
// for the held answer; nullopt when old's connection failed (the session then ends).
asio::awaitable<std::optional<HeldAnswer>> Session::run_on_old(std::string_view messages,
                                                               int units) {
  pending_replies_ += units;
  backend_write_whole_ = false;
  ErrorCode ec = co_await write_all(backend_, messages);
  if (ec) co_return std::nullopt;
  backend_write_whole_ = true;
  if (!co_await wait_for_old() || !old_filter_.has_held()) co_return std::nullopt;
  co_return old_filter_.take_held();
}

// Until old owes no ReadyForQuery and its answers went out to the client; false when the
// session ends meanwhile.
asio::awaitable<bool> Session::wait_for_old() {
  while (pending_replies_ > 0 || old_chunk_unsent_) {
    awaiting_old_ = true;
    old_answer_signal_.expires_at(Clock::time_point::max());
    co_await old_answer_signal_.async_wait();
    auto state = co_await asio::this_coro::cancellation_state;
    if (state.cancelled() != asio::cancellation_type::none) co_return false;
  }
  awaiting_old_ = false;
  co_return true;
}

// Runs a mirrored unit on new (after cutover's BEGIN when `begun`) and compares its command
// tags with old's (`old_tags`; null when there is nothing to compare). A failure there never
// reaches the client: it is logged, and the rest of new's transaction is not applied (it ends
// with a ROLLBACK).
asio::awaitable<void> Session::run_on_mirror(std::string_view messages, bool begun,
                                             const router::Classification& unit,
                                             const std::vector<std::string>* old_tags) {
  if (!new_ready_ || mirror_broken_ || !co_await drain_new()) {
    log::warn("mirror_skipped", {{"conn", id_},
                                 {"fingerprint", log::hex(unit.fingerprint)},
                                 {"reason", mirror_broken_ ? "transaction failed" : "new down"}});
    co_return;
  }
  new_read_started_ = Clock::now();
  new_wait_limit_ = config_.migration.mirror.timeout;
  new_read_timed_out_ = false;
  awaiting_new_ = true;
  std::vector<std::string> tags;
  std::string error;
  bool lost = static_cast<bool>(co_await write_all(new_backend_, messages));
  protocol::ProtocolError frame_error{};
  int units = begun ? 2 : 1;
  while (!lost && units > 0) {
    auto message = co_await next_from_new(frame_error);
    if (!message) {
      lost = true;
    } else if (message->type == 'C' && !(begun && units == 2)) {  // not cutover's BEGIN
      tags.emplace_back(message->body.substr(0, message->body.find('\0')));
    } else if (message->type == 'E' && error.empty()) {
      error = error_message(*message);
    } else if (message->type == 'Z' && --units == 0) {
      new_status_ = message->body.empty() ? 'I' : message->body[0];
    }
  }
  awaiting_new_ = false;
  const char* reason = new_read_timed_out_ ? "timeout" : lost ? "connection" : nullptr;
  if (reason != nullptr || !error.empty()) {
    log::warn("mirror_failed", {{"conn", id_},
                                {"fingerprint", log::hex(unit.fingerprint)},
                                {"reason", reason != nullptr ? reason : "error"},
                                {"error", error}});
    if (reason != nullptr) drop_new(reason);
    mirror_broken_ = new_status_ != 'I';
    co_return;
  }
  if (old_tags != nullptr && tags != *old_tags) {
    log::warn("mirror_mismatch", {{"conn", id_},
                                  {"fingerprint", log::hex(unit.fingerprint)},
                                  {"old", join(*old_tags)},
                                  {"new", join(tags)}});
  }
}

// Ends new's transaction after old's ended outside a mirrored unit's normal path: COMMIT when
// old committed, ROLLBACK otherwise.
asio::awaitable<void> Session::end_mirror_transaction(bool commit) {
  const bool broken = mirror_broken_;
  mirror_broken_ = false;
  if (!new_ready_ || new_status_ == 'I') co_return;
  std::string message;
  append_query(message, commit && !broken ? "COMMIT" : "ROLLBACK");
  router::Classification unit{.kind = router::Kind::kTransaction};
  unit.fingerprint = router::fingerprint(commit ? "COMMIT" : "ROLLBACK");
  co_await run_on_mirror(message, false, unit, nullptr);
  mirror_broken_ = false;
}

// The ReadyForQuery that ends a mirrored unit for the client, written the way new's answers
// are (never in the middle of something old's relay is writing).
asio::awaitable<bool> Session::send_ready(char status) {
  if (status == 'I') mirror_broken_ = false;
  std::string ready;
  protocol::encode(protocol::ReadyForQuery{status}, ready);
  co_await hold_client_writes();
  bool sent = co_await relay_to_client(ready);
  release_client_writes();
  if (!sent) co_return false;
  last_activity_ = Clock::now();
  co_return true;
}

}  // namespace cutover::proxy
