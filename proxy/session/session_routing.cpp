// The unit dispatcher in dual_write: the client's messages are gathered into units of work (a
// simple-protocol Query here, an extended-query batch in session_extended.cpp), classified,
// and given to router::route: a read it sends to new runs there (session_new_reads.cpp), a
// write is mirrored (session_mirror.cpp), a COPY FROM STDIN mirrored as it streams
// (session_copy.cpp), session state copied to new so its reads see the same settings, and
// everything else goes to old as in pass-through.
#include "protocol/backend.h"
#include "proxy/session/session.h"

namespace cutover::proxy {
namespace {

using Clock = std::chrono::steady_clock;

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
  const asio::mutable_buffer window(client_.window.get(), config_.limits.buffer_bytes);
  bool buffer_filled = false;
  for (;;) {
    for (;;) {
      auto frame = protocol::next_frame(client_.in, config_.limits.max_message_bytes);
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
      bool sent = true;
      const bool copy_message = std::string_view("dcf").find(frame.type) != std::string_view::npos;
      if (mirror_.copying() && !copy_message) mirror_.end_copy();  // old refused the COPY
      if (mirror_.copying()) {
        sent = co_await mirror_.copy_data(frame.type, whole, pending);
      } else if (primary_.copy_in) {
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
    bool sent = co_await commit_batch_to_old(pending);
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

// One simple-protocol Query: classified, then run on new or queued for old.
asio::awaitable<bool> Session::route_query(std::string_view body, std::string_view whole,
                                           std::string& pending) {
  if (!co_await commit_batch_to_old(pending)) co_return false;
  // A copy: the cache may evict its entry while this session waits on new.
  const router::Classification unit = classify(body.substr(0, body.find('\0')));
  if (primary_.status == 'I') view_.read_only_transaction = false;
  note_unit(unit);
  forget_prepared(unit);
  if (!co_await forward_to_old(pending)) co_return false;
  statements_.new_lost_unnamed();  // any Query may reach new, and destroys it there
  NewRead read = NewRead::kOnOld;
  if (!mirror_.mirrors(unit) && !unit.copies_in && unit.kind != router::Kind::kSession) {
    read = co_await try_new(whole, unit, 0, whole);
  }
  if (read == NewRead::kAnswered) co_return true;  // counted by run_on_new()
  context_.metrics.unit_routed(unit.kind, primary_.database);
  if (mirror_.mirrors(unit)) co_return co_await mirror_.query(whole, unit, pending);
  if (unit.copies_in && context_.journal != nullptr && !mirror_.retired()) {
    co_return co_await mirror_.copy(whole, unit);
  }
  if (unit.kind == router::Kind::kSession) {
    new_side_.record_state(whole);
    if (new_side_.ready()) co_await new_side_.copy_state(whole);
  } else if (shadows(unit)) {
    co_return co_await mirror_.shadow_read(whole, whole, unit, pending);
  }
  pending.append(whole);
  co_return true;
}

// The policy's decision, its target turned into this session's connection (database_of()).
// Outside dual_write every unit belongs to the source of truth, whose connection is primary_.stream
// even while a role switch is still to reach this session.
router::Decision Session::decide(const router::Classification& unit) {
  view_.in_transaction = primary_.status != 'I';
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
  if (unit.forgets_prepared) pinner_.statements_lost(true);
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
    pinner_.settings_changed();
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
    pinner_.set_standard_strings(!nonstandard_strings_);
  }
}

}  // namespace cutover::proxy
