// COPY FROM STDIN mirrored in dual_write, and shadow reads (the rest of mirroring: mirror.cpp).
#include "proxy/base/log.h"
#include "proxy/mirror/mirror.h"
#include "proxy/mirror/mirror_messages.h"

namespace cutover::proxy {
namespace {

// What old's error says when cutover stops a COPY it cannot mirror.
constexpr std::string_view kCopyTooLarge =
    "cutover: COPY FROM STDIN of more than 64 MB cannot be mirrored to the new database yet; "
    "send the data in smaller COPYs";

}  // namespace

// COPY ... FROM STDIN in dual_write: old runs it as the data streams in from the client, and
// the Query with every CopyData is kept (KeptMessages' bound); when the client's CopyDone (or
// CopyFail) has reached old and old has answered, new runs the whole of it, like a batch that
// went to old in pieces (see streamed_batch()): not wrapped in cutover's transaction.
// A COPY whose data outgrows the bound could neither run on new nor be journaled, so it must
// not stay on old alone: old gets a CopyFail as soon as the bound is passed (the client then
// gets old's error, 57014 with cutover's reason), and the rest of the client's data is dropped.
// A COPY whose column list leaves out columns with defaults that differ per server (a serial
// key, gen_random_uuid(), now(): a COPY cannot carry pinned values) is unsafe: refused before
// old runs it, or when allowed, an open divergence of its table.
asio::awaitable<bool> Mirror::copy(std::string_view whole, const router::Classification& unit) {
  --primary_.pending_replies;  // counted when the client sent it: old must be idle to be asked
  const bool idle = co_await host_.wait_for_old();
  if (!idle) co_return false;
  pinner_.start_unit();
  const std::string omitted = co_await pinner_.copy_defaults(query_text(whole));
  if (!omitted.empty()) {
    pinner_.note_unsafe(unit.fingerprint, omitted);
    const std::optional<router::Refusal> refusal = unsafe_refusal(unit);
    if (refusal) {
      const bool refused = co_await refuse(*refusal, unit);
      co_return refused;
    }
    note_unpinned_write(unit);
  }
  const std::optional<router::Refusal> unjournaled = journal_refusal(unit);
  if (unjournaled) {
    const bool refused = co_await refuse(*unjournaled, unit);
    co_return refused;
  }
  ++primary_.pending_replies;  // the COPY goes to old as the client's own
  co_await join(unit);
  copy_.active = true;
  copy_.unit = unit;
  copy_.kept = {};
  copy_.kept.append(whole);
  std::string to_old(whole);  // the COPY itself; old's CopyInResponse reaches the client
  co_return co_await host_.forward_to_old(to_old);
}

// A mirrored COPY that old refused at once (no data follows): nothing to mirror.
void Mirror::end_copy() {
  copy_.active = false;
  copy_.refused = false;
  copy_.kept = {};
  copy_.unit = {};
}

// One CopyData (kept and sent on to old) or the end of the copy (CopyDone/CopyFail: old's
// answer is held, then new runs the kept copy).
asio::awaitable<bool> Mirror::copy_data(char type, std::string_view whole, std::string& pending) {
  if (copy_.refused) {  // old ended the COPY with cutover's CopyFail: the rest goes nowhere
    if (type != 'd') end_copy();
    co_return true;
  }
  copy_.kept.append(whole);
  if (copy_.kept.overflowed()) {
    copy_.refused = true;
    log::error("mirror_copy_refused", {{"conn", conn_id_},
                                       {"fingerprint", log::hex(copy_.unit.fingerprint)},
                                       {"reason", "COPY data larger than 64 MB"}});
    protocol::encode(protocol::CopyFail{.message = std::string(kCopyTooLarge)}, pending);
    if (type != 'd') end_copy();
    co_return true;
  }
  if (type == 'd') {
    pending.append(whole);
    co_return true;
  }
  copy_.active = false;
  const KeptMessages kept = std::exchange(copy_.kept, {});
  const router::Classification unit = std::exchange(copy_.unit, {});
  if (!co_await host_.forward_to_old(pending)) co_return false;
  co_await settle_pending();                                 // before old may end the transaction
  primary_.filter.hold_ready(primary_.pending_replies - 1);  // the COPY's, after those owed
  --primary_.pending_replies;  // the COPY's Query, counted when the client sent it
  std::string end(whole);
  if (type == 'c' && primary_.status == 'I') {  // its CopyDone commits it on old
    const std::optional<router::Refusal> refusal = co_await journal_first(kept.bytes(), unit);
    // Old ends the COPY as failed instead (SQLSTATE 57014, the refusal's message in its own).
    if (refusal) {
      end.clear();
      protocol::encode(protocol::CopyFail{.message = refusal->message}, end);
    } else {
      co_await admit_commit();
    }
  }
  auto answer = co_await host_.run_on_old(end, 1);
  if (!answer) co_return false;
  old_answered();
  co_return co_await after_old(*answer, false, kept.bytes(), kept.bytes(), unit, false, false);
}

// A sampled read: old runs it for the client (its ReadyForQuery held), then new runs the same
// read (`for_new`: with what new must prepare first) and the comparator gets both answers. The
// client waits for new's answer too, so shadow reads cost the sampled reads new's latency; a
// failure on new is only logged.
asio::awaitable<bool> Mirror::shadow_read(std::string_view for_old, std::string_view for_new,
                                          const router::Classification& unit,
                                          std::string& pending) {
  if (!co_await host_.forward_to_old(pending)) co_return false;
  --primary_.pending_replies;  // counted when the client sent it; run_on_old() counts it
  primary_.filter.hold_ready(0);
  auto answer = co_await host_.run_on_old(for_old, 1);
  if (!answer) co_return false;
  applied_ = false;
  if (answer->sqlstate.empty()) {
    // now() and the like differ, of course
    co_await run_on_new(for_new, {.shadow_read = true, .unpinned = unit.nondeterministic}, unit,
                        &*answer);
  }
  co_return co_await send_ready(answer->status);
}

}  // namespace cutover::proxy
