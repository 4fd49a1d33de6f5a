// Extended-query batches in dual_write: the messages up to a Sync are gathered and routed as
// one unit, like a simple Query. A batch that is a read, whose statements new has or can be
// given (router/extended.h), may run on new; everything else goes to old. Prepared statements
// are given to a side the first time a batch needs them there: to new as a prefix whose
// answers cutover reads, to old (only the unnamed statement, when new ran the last Parse of
// it) as a prefix whose ParseComplete the relay takes out.
#include <limits>
#include <variant>

#include "protocol/framing.h"
#include "protocol/frontend.h"
#include "proxy/base/log.h"
#include "proxy/session/unit_dispatcher.h"

namespace cutover::proxy {
namespace {

constexpr std::string_view kSync("S\0\0\0\4", 5);   // a whole Sync message
constexpr std::string_view kFlush("H\0\0\0\4", 5);  // a whole Flush message

// Whether `batch` (up to a Flush) only parses, describes and closes statements.
bool prepares_only(std::string_view batch) {
  if (!batch.ends_with(kFlush)) return false;
  batch.remove_suffix(kFlush.size());
  for (;;) {
    const protocol::FrameResult frame =
        protocol::next_frame(batch, std::numeric_limits<size_t>::max());
    if (frame.status != protocol::FrameStatus::kFrame) return batch.empty();
    if (frame.type != 'P' && !(frame.type == 'D' && frame.body.starts_with('S')) &&
        frame.type != 'C') {
      return false;
    }
    batch.remove_prefix(frame.consumed);
  }
}

// The queries `batch` parses, one statement after another: what refusal_while_mirroring() reads
// of DDL (decoded only then).
std::string parsed_queries(std::string_view batch) {
  std::string sql;
  for (;;) {
    const protocol::FrameResult frame =
        protocol::next_frame(batch, std::numeric_limits<size_t>::max());
    if (frame.status != protocol::FrameStatus::kFrame) return sql;
    if (frame.type == 'P') {
      auto decoded = protocol::decode_frontend('P', frame.body);
      if (const auto* parse = decoded ? std::get_if<protocol::Parse>(&*decoded) : nullptr) {
        sql += parse->query + ";\n";
      }
    }
    batch.remove_prefix(frame.consumed);
  }
}

}  // namespace

asio::awaitable<bool> UnitDispatcher::route_extended(char type, std::string_view whole,
                                                     std::string& pending) {
  if (type == 'S') apart_until_sync_ = skipping_to_sync_ = false;  // see prepare_apart()
  if (batch_to_old_) {
    // The rest goes to old in pieces: what came up to a Flush, or up to the end of what the
    // client sent so far (the session flushes then), so that a Bind and its Execute are
    // pinned together (a client waits for answers only at a Flush or Sync).
    if (type == 'S') {
      sync_arrived_ = true;
      const bool flushed = co_await flush(pending);
      sync_arrived_ = false;
      if (!flushed) co_return false;
      co_return co_await mirror_partial_batch(whole, pending);
    }
    batch_.append(whole);
    if (type == 'H') co_return co_await flush(pending);
    co_return true;
  }
  batch_.append(whole);
  if (type == 'H') co_return co_await flush(pending);
  if (type != 'S') co_return true;
  co_return co_await run_batch(pending);
}

// The batch is whole (it ends with Sync): run it on new if it may go there, else on old.
asio::awaitable<bool> UnitDispatcher::run_batch(std::string& pending) {
  std::string batch = std::move(batch_);
  batch_.clear();
  const router::BatchPlan plan = plan_batch(batch);
  if (!plan.ignored_row_limits.empty()) {
    batch = router::without_ignored_row_limits(batch, plan.ignored_row_limits);
  }
  if (plan.executes && parts_.mirror.mirrors(plan.unit)) {
    context_.metrics.unit_routed(plan.unit.kind, parts_.primary.database);
    co_return co_await mirror_batch(batch, plan, pending);
  }
  if (plan.executes && plan.unit.copies_in && context_.journal != nullptr &&
      !parts_.mirror.retired()) {
    const router::Refusal refusal = router::extended_copy_refusal();
    parts_.mirror.note_refused(refusal, plan.unit);
    const bool refused = co_await refuse_batch(batch, plan, refusal, pending);
    co_return refused;
  }
  if (plan.executes && plan.movable) {
    if (!co_await host_.forward_to_old(pending)) co_return false;
    if (parts_.primary.status == 'I') view_.read_only_transaction = false;
    // Named: GCC 12 mishandles temporaries inside co_await expressions.
    const std::string for_new = plan.new_prefix + batch;
    const std::string_view for_old = plan.old_prefix.empty() ? std::string_view(batch) : "";
    const NewRead read = co_await try_new(for_new, plan.unit, plan.new_prefix_replies, for_old);
    if (read == NewRead::kAnswered) {  // counted by run_on_new()
      statements_.apply(batch, plan, false, true);
      note_batch(plan);
      co_return true;
    }
  }
  if (plan.executes) context_.metrics.unit_routed(plan.unit.kind, parts_.primary.database);
  if (plan.executes && plan.old_prefix.empty() && plan.new_can_run && shadows(plan.unit)) {
    const std::string for_new = plan.new_prefix + batch;
    const bool shadowed = co_await parts_.mirror.shadow_read(batch, for_new, plan.unit, pending);
    statements_.apply(batch, plan, true, parts_.mirror.applied());
    note_batch(plan);
    co_return shadowed;
  }
  const bool sent = co_await send_batch_to_old(batch, plan, pending);
  batch_parses_on_old_ = 0;
  co_return sent;
}

bool UnitDispatcher::may_hold_batch() const {
  return context_.config.limits.batch_hold.count() > 0 && !batch_to_old_ && !batch_.empty() &&
         batch_.size() < context_.config.limits.batch_hold_bytes;
}

// Sends what was gathered of the current batch to old; the rest of it follows as it comes.
asio::awaitable<bool> UnitDispatcher::flush(std::string& pending) {
  if (batch_.empty()) co_return true;
  const std::string batch = std::move(batch_);
  batch_.clear();
  if (batch_to_old_) co_return co_await send_piece_to_old(batch, plan_batch(batch), pending);
  const router::BatchPlan plan = plan_batch(batch);
  const std::vector<router::BatchPlan::Binding> wanted = parts_.pinner.prefetch_wanted(batch, plan);
  if (!wanted.empty() && prepares_only(batch) && plan.old_prefix.empty()) {
    co_return co_await prepare_apart(batch, plan, pending);
  }
  batch_to_old_ = true;
  partial_batch_ = {};  // mirrored whole at its Sync (past the bound: not at all)
  *parts_.mirror.own_parses_counter() = 0;
  // Values old must compute for the pieces are asked while old is idle (Pinner::prefetch()).
  if (!wanted.empty()) {
    const bool forwarded = co_await host_.forward_to_old(pending);
    if (!forwarded) co_return false;
    const bool idle = co_await host_.wait_for_old();
    if (!idle) co_return false;
    const bool prefetched = co_await parts_.pinner.prefetch(wanted);
    if (!prefetched) co_return false;
  }
  pieces_observed_ = context_.journal != nullptr && !parts_.mirror.retired();
  if (pieces_observed_) {
    // Old answers the pieces before the Sync comes: its tags and rows are noted as they pass,
    // so the comparison at the Sync has the whole answer (Mirror::streamed_batch()).
    parts_.primary.filter.observe(parts_.primary.pending_replies);
    parts_.primary.scanner.set_capture(BackendLink::kCaptureWithRows);
  }
  co_return co_await send_piece_to_old(batch, plan, pending);
}

// A batch that so far only prepares statements and asks for their descriptions, then waits for
// them (asyncpg's Parse, Describe, Flush, then the Binds of an executemany): run on old as a
// unit of its own, ended by a Sync of cutover's whose ReadyForQuery is taken out. Old is then
// idle when the Binds come, so they form a batch of their own, held and pinned whole at the
// client's Sync, with every value old must compute for them asked first; in pieces only four
// executions' worth could be asked ahead. The client sees the same answers: a Sync commits
// nothing a Parse or Describe did. After an error, what the client sends up to its Sync is
// skipped, as old would have skipped it.
asio::awaitable<bool> UnitDispatcher::prepare_apart(std::string_view batch,
                                                    const router::BatchPlan& plan,
                                                    std::string& pending) {
  const bool forwarded = co_await host_.forward_to_old(pending);
  if (!forwarded) co_return false;
  std::string unit(batch.substr(0, batch.size() - kFlush.size()));
  unit.append(kSync);
  parts_.primary.filter.hold_ready(parts_.primary.pending_replies);
  const std::optional<HeldAnswer> answer = co_await host_.run_on_old(unit, 1);
  if (!answer) co_return false;
  statements_.apply(batch, plan, true, false);
  apart_until_sync_ = true;
  skipping_to_sync_ = !answer->sqlstate.empty();
  co_return true;
}

// A piece of a batch going to old in pieces: kept for new, and sent to old with what
// pinning changes (session_pinning.cpp).
asio::awaitable<bool> UnitDispatcher::send_piece_to_old(std::string_view piece,
                                                        const router::BatchPlan& plan,
                                                        std::string& pending) {
  std::string unlimited;  // the piece, when it has row limits PostgreSQL ignores
  if (!plan.ignored_row_limits.empty()) {
    unlimited = router::without_ignored_row_limits(piece, plan.ignored_row_limits);
    piece = unlimited;
  }
  std::optional<Pinner::PinnedPiece> pinned;
  if (plan.old_prefix.empty()) {
    pinned = parts_.pinner.pin_piece(piece, plan, pieces_observed_);
  } else {  // old's unnamed statement goes first: the piece is not pinned
    parts_.pinner.piece_unpinned(plan);
  }
  if (!pinned) {
    partial_batch_.append(piece);
    co_return co_await send_batch_to_old(piece, plan, pending);
  }
  partial_batch_.append(pinned->for_new);
  const int units_before = units_before_batch(piece);
  if (!pinned->executes.empty() || !pinned->describes.empty()) {  // writes by their effect
    parts_.primary.filter.take_also(units_before, pinned->executes, pinned->describes);
  }
  for (const int parses_before : pinned->own_parses) {
    parts_.primary.filter.drop_parse_complete(units_before, batch_parses_on_old_ + parses_before,
                                              parts_.mirror.own_parses_counter());
  }
  co_return co_await send_batch_to_old(pinned->for_old, plan_batch(pinned->for_old), pending);
}

// Queues `batch` (a whole batch or part of one) for old, with the unnamed statement in front
// when old's is not the client's current one. Session state reaches new too.
asio::awaitable<bool> UnitDispatcher::send_batch_to_old(std::string_view batch,
                                                        const router::BatchPlan& plan,
                                                        std::string& pending) {
  if (!plan.old_prefix.empty()) {
    // Units before this one still owe their ReadyForQuery; this one's Sync, if it is here,
    // is already counted.
    const int units_before = units_before_batch(batch);
    parts_.primary.filter.drop_parse_complete(units_before, batch_parses_on_old_);
    pending.append(plan.old_prefix);
  }
  pending.append(batch);
  batch_parses_on_old_ += static_cast<int>(plan.parsed.size());
  bool copied = false;
  if (plan.executes && plan.unit.kind == router::Kind::kSession) {
    copied = co_await copy_batch_to_new(batch, plan);
  }
  statements_.apply(batch, plan, true, copied);
  note_batch(plan);
  co_return true;
}

// Session state set through the extended protocol: new gets the same batch (with what it
// needs prepared first), and the replay log a self-contained copy.
// Whether it went to new now.
asio::awaitable<bool> UnitDispatcher::copy_batch_to_new(std::string_view batch,
                                                        const router::BatchPlan& plan) {
  if (!batch.ends_with(kSync) || !plan.movable) {
    // Part of a batch, or statements new cannot be given: new's settings would differ.
    if (parts_.new_side.wanted()) log::warn("new_session_state_not_copied", {{"conn", conn_id_}});
    parts_.new_side.unwant();
    parts_.new_side.drop("session state not copied");
    co_return false;
  }
  const std::string recorded = plan_batch(batch, true).new_prefix + std::string(batch);
  parts_.new_side.record_state(recorded);
  parts_.mirror.session_unit(recorded);
  if (!parts_.new_side.ready()) co_return false;
  const std::string for_new = plan.new_prefix + std::string(batch);
  co_await parts_.new_side.copy_state(for_new);
  co_return parts_.new_side.ready();
}

// An extended batch that writes, mirrored; then what its statements left on each side.
asio::awaitable<bool> UnitDispatcher::mirror_batch(std::string_view batch,
                                                   const router::BatchPlan& plan,
                                                   std::string& pending) {
  const std::string journal_prefix = plan_batch(batch, true).new_prefix;
  const std::string ddl = plan.unit.kind == router::Kind::kDdl ? parsed_queries(batch) : "";
  const std::optional<router::Refusal> refusal = refusal_of(plan.unit, ddl);
  if (refusal) {
    const bool refused = co_await refuse_batch(batch, plan, *refusal, pending);
    co_return refused;
  }
  const bool ran = co_await parts_.mirror.batch(batch, plan, journal_prefix, pending);
  if (!ran) co_return false;
  batch_parses_on_old_ = 0;
  statements_.apply(batch, plan, !parts_.mirror.refused(), parts_.mirror.applied());
  note_batch(plan);
  co_return true;
}

// A batch refused before old runs it (router/refusals.h): none of its Parses is on old.
asio::awaitable<bool> UnitDispatcher::refuse_batch(std::string_view batch,
                                                   const router::BatchPlan& plan,
                                                   const router::Refusal& refusal,
                                                   std::string& pending) {
  const bool refused = co_await parts_.mirror.refuse_batch(refusal, plan.unit, pending);
  if (!refused) co_return false;
  batch_parses_on_old_ = 0;
  statements_.apply(batch, plan, false, false);
  note_batch(plan);
  co_return true;
}

// The Sync of a batch that went to old in pieces (a Flush, or it spanned reads): mirrored
// whole when it writes (asyncpg's first execution of each statement comes this way).
asio::awaitable<bool> UnitDispatcher::mirror_partial_batch(std::string_view sync,
                                                           std::string& pending) {
  batch_to_old_ = false;
  batch_parses_on_old_ = 0;
  const KeptMessages kept = std::exchange(partial_batch_, {});
  const std::string batch = kept.bytes() + std::string(sync);
  const router::BatchPlan plan = plan_batch(batch);
  if (plan.executes) context_.metrics.unit_routed(plan.unit.kind, parts_.primary.database);
  if (!plan.executes || !parts_.mirror.mirrors(plan.unit)) {
    parts_.primary.scanner.set_capture(BackendLink::kCapture);  // nothing to compare
    parts_.pinner.streamed_batch_over(0);  // whether old has them is not known until its answer
    note_batch(plan);
    pending.append(sync);
    co_return true;
  }
  const std::string journal_prefix = plan_batch(batch, true).new_prefix;
  const bool ran = co_await parts_.mirror.streamed_batch(sync, batch, plan, journal_prefix,
                                                         !kept.overflowed(), pending);
  if (!ran) co_return false;
  statements_.apply(batch, plan, false, parts_.mirror.applied());
  note_batch(plan);
  co_return true;
}

int UnitDispatcher::units_before_batch(std::string_view batch) const {
  return parts_.primary.pending_replies - static_cast<int>(batch.ends_with(kSync) || sync_arrived_);
}

// A Query after pieces that executed nothing (asyncpg prepares a statement with Parse,
// Describe, Flush, then sends a COPY as a Query): that batch has nothing to mirror and ends
// here for cutover, so the next one starts afresh (what it binds asked of old ahead).
void UnitDispatcher::end_unexecuted_pieces() {
  if (plan_batch(partial_batch_.bytes()).executes) return;
  batch_to_old_ = false;
  batch_parses_on_old_ = 0;
  partial_batch_ = {};
  parts_.primary.scanner.set_capture(BackendLink::kCapture);
  parts_.pinner.streamed_batch_over(0);
}

router::BatchPlan UnitDispatcher::plan_batch(std::string_view batch, bool new_is_empty) {
  return statements_.plan(
      batch,
      [this](std::string_view sql) -> const router::Classification& { return classify(sql); },
      new_is_empty);
}

void UnitDispatcher::note_batch(const router::BatchPlan& plan) {
  if (!plan.executes) return;
  note_unit(plan.unit);
  forget_prepared(plan.unit);
}

}  // namespace cutover::proxy
