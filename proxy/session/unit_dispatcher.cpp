#include "proxy/session/unit_dispatcher.h"

#include "proxy/base/log.h"
#include "proxy/mirror/mirror_messages.h"
#include "router/refusals.h"

namespace cutover::proxy {
namespace {

using Clock = std::chrono::steady_clock;

}  // namespace

UnitDispatcher::UnitDispatcher(Host& host, Parts parts, ProxyContext& context, uint64_t conn_id)
    : host_(host), parts_(parts), context_(context), conn_id_(conn_id) {}

void UnitDispatcher::start(std::string_view user, uint64_t sticky_hash) {
  view_.user = user;
  view_.sticky_hash = sticky_hash;
}

asio::awaitable<bool> UnitDispatcher::take(char type, std::string_view body, std::string_view whole,
                                           std::string& pending) {
  if (skips(type)) co_return true;  // see prepare_apart()
  Mirror& mirror = parts_.mirror;
  const bool copy_message = std::string_view("dcf").find(type) != std::string_view::npos;
  if (mirror.copying() && !copy_message) mirror.end_copy();  // old refused the COPY
  if (mirror.copying()) co_return co_await mirror.copy_data(type, whole, pending);
  if (parts_.primary.copy_in) {
    pending.append(whole);
    co_return true;
  }
  if (type == 'Q') co_return co_await route_query(body, whole, pending);
  if (std::string_view("PBDECSH").find(type) != std::string_view::npos) {
    co_return co_await route_extended(type, whole, pending);
  }
  const bool flushed = co_await flush(pending);
  if (!flushed) co_return false;
  if (type == 'F' && context_.journal != nullptr && !mirror.retired()) {
    // Old raises the refusal in the call's place: an ErrorResponse and a ReadyForQuery, as a
    // call the server refused.
    const router::Refusal refusal = router::fast_path_refusal();
    mirror.note_refused(refusal, {.kind = router::Kind::kUnknown});
    append_query(pending, router::raising_statement(refusal));
    co_return true;
  }
  if (type == 'F') note_unit({.kind = router::Kind::kUnknown});  // a function call
  pending.append(whole);
  co_return true;
}

// One classification cache per worker thread: sessions on a thread share it without locks.
const router::Classification& UnitDispatcher::classify(std::string_view sql) {
  thread_local router::ClassificationCache cache(context_.classifier, 10000);
  return cache.classify(sql);
}

// One simple-protocol Query: classified, then run on new or queued for old.
asio::awaitable<bool> UnitDispatcher::route_query(std::string_view body, std::string_view whole,
                                                  std::string& pending) {
  if (!co_await flush(pending)) co_return false;
  if (batch_to_old_) end_unexecuted_pieces();
  // A copy: the cache may evict its entry while this session waits on new.
  const router::Classification unit = classify(body.substr(0, body.find('\0')));
  if (const auto refusal = refusal_of(unit, query_text(whole))) {
    // Old raises it in place of the client's Query, which nothing sees.
    append_query(pending, router::raising_statement(*refusal));
    co_return true;
  }
  if (parts_.primary.status == 'I') view_.read_only_transaction = false;
  note_unit(unit);
  forget_prepared(unit);
  if (!co_await host_.forward_to_old(pending)) co_return false;
  statements_.new_lost_unnamed();  // any Query may reach new, and destroys it there
  NewRead read = NewRead::kOnOld;
  if (!parts_.mirror.mirrors(unit) && !unit.copies_in && unit.kind != router::Kind::kSession) {
    read = co_await try_new(whole, unit, 0, whole);
  }
  if (read == NewRead::kAnswered) co_return true;  // counted by run_on_new()
  context_.metrics.unit_routed(unit.kind, parts_.primary.database);
  if (parts_.mirror.mirrors(unit)) co_return co_await parts_.mirror.query(whole, unit, pending);
  if (unit.copies_in && context_.journal != nullptr && !parts_.mirror.retired()) {
    co_return co_await parts_.mirror.copy(whole, unit);
  }
  if (unit.kind == router::Kind::kSession) {
    parts_.new_side.record_state(whole);
    parts_.mirror.session_unit(whole);
    if (parts_.new_side.ready()) co_await parts_.new_side.copy_state(whole);
  } else if (shadows(unit)) {
    co_return co_await parts_.mirror.shadow_read(whole, whole, unit, pending);
  }
  pending.append(whole);
  co_return true;
}

// The policy's decision, its target turned into this session's connection: after a promotion
// the primary link reaches new.
// Outside dual_write every unit belongs to the source of truth, whose connection is
// parts_.primary.stream even while a role switch is still to reach this session.
router::Decision UnitDispatcher::decide(const router::Classification& unit) {
  view_.in_transaction = parts_.primary.status != 'I';
  const router::Phase phase = context_.control.phase();
  router::Decision decision = router::route(phase, context_.control.read_ramp(), context_.policy,
                                            view_, unit, Clock::now());
  decision.target =
      phase == router::Phase::kDualWrite
          ? (parts_.primary.database == router::Backend::kOld ? decision.target
                                                              : router::other(decision.target))
          : router::Backend::kOld;
  return decision;
}

// Keeps what the policy needs to know: writes (read-your-writes), READ ONLY transactions, and
// session state that new must share.
// `unit` (DEALLOCATE, DISCARD ALL) removes prepared statements, maybe cutover's too.
void UnitDispatcher::forget_prepared(const router::Classification& unit) {
  statements_.forget(unit);
  if (unit.forgets_prepared) parts_.pinner.statements_lost(true);
}

void UnitDispatcher::note_unit(const router::Classification& unit) {
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
    parts_.pinner.settings_changed();
  }
  if (unit.kind == Kind::kTransaction && unit.read_only_transaction) {
    view_.read_only_transaction = true;
  }
}

// What cannot be mirrored is refused while a mirror is kept (router/refusals.h).
std::optional<router::Refusal> UnitDispatcher::refusal_of(const router::Classification& unit,
                                                          std::string_view sql) {
  if (context_.journal == nullptr || parts_.mirror.retired()) return std::nullopt;
  std::optional<router::Refusal> refusal = router::refusal_while_mirroring(unit, sql);
  if (refusal) parts_.mirror.note_refused(*refusal, unit);
  return refusal;
}

// A read the policy sends to new runs there if new can take it (NewReads::try_new()). While
// standard_conforming_strings is off nothing is: the classifier would misread the SQL.
asio::awaitable<NewRead> UnitDispatcher::try_new(std::string_view message,
                                                 const router::Classification& unit,
                                                 int prefix_replies,
                                                 std::string_view shadow_for_old) {
  if (nonstandard_strings_ || decide(unit).target != router::Backend::kNew) {
    co_return NewRead::kOnOld;
  }
  co_return co_await parts_.new_reads.try_new(message, unit, prefix_replies, shadow_for_old);
}

bool UnitDispatcher::shadows(const router::Classification& unit) {
  return !nonstandard_strings_ && parts_.new_reads.shadows(unit);
}

void UnitDispatcher::note_parameter_status(std::string_view name, std::string_view value) {
  if (name != "standard_conforming_strings") return;
  nonstandard_strings_ = value != "on";
  parts_.pinner.set_standard_strings(!nonstandard_strings_);
}

void UnitDispatcher::note_transaction_end() {
  statements_.transaction_ended();
  if (!schema_changed_) return;
  schema_changed_ = false;
  ++context_.schema_version;
}

}  // namespace cutover::proxy
