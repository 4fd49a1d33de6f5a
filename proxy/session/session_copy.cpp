// COPY FROM STDIN mirrored in dual_write (the rest of mirroring: session_mirror.cpp).
#include "proxy/base/log.h"
#include "proxy/session/session.h"

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
// went to old in pieces (see mirror_partial_batch()): not wrapped in cutover's transaction.
// A COPY whose data outgrows the bound could neither run on new nor be journaled, so it must
// not stay on old alone: old gets a CopyFail as soon as the bound is passed (the client then
// gets old's error, 57014 with cutover's reason), and the rest of the client's data is dropped.
asio::awaitable<bool> Session::mirror_copy(std::string_view whole,
                                           const router::Classification& unit) {
  co_await join_mirror_transaction(unit);
  copy_mirrored_ = true;
  copy_unit_ = unit;
  copy_kept_ = {};
  copy_kept_.append(whole);
  std::string to_old(whole);  // the COPY itself; old's CopyInResponse reaches the client
  co_return co_await forward_to_old(to_old);
}

// A mirrored COPY that old refused at once (no data follows): nothing to mirror.
void Session::end_mirrored_copy() {
  copy_mirrored_ = false;
  copy_refused_ = false;
  copy_kept_ = {};
  copy_unit_ = {};
}

// One CopyData (kept and sent on to old) or the end of the copy (CopyDone/CopyFail: old's
// answer is held, then new runs the kept copy).
asio::awaitable<bool> Session::mirror_copy_data(char type, std::string_view whole,
                                                std::string& pending) {
  if (copy_refused_) {  // old ended the COPY with cutover's CopyFail: the rest goes nowhere
    if (type != 'd') end_mirrored_copy();
    co_return true;
  }
  copy_kept_.append(whole);
  if (copy_kept_.overflowed()) {
    copy_refused_ = true;
    log::error("mirror_copy_refused", {{"conn", id_},
                                       {"fingerprint", log::hex(copy_unit_.fingerprint)},
                                       {"reason", "COPY data larger than 64 MB"}});
    protocol::encode(protocol::CopyFail{.message = std::string(kCopyTooLarge)}, pending);
    if (type != 'd') end_mirrored_copy();
    co_return true;
  }
  if (type == 'd') {
    pending.append(whole);
    co_return true;
  }
  copy_mirrored_ = false;
  const KeptMessages kept = std::exchange(copy_kept_, {});
  const router::Classification unit = std::exchange(copy_unit_, {});
  if (!co_await forward_to_old(pending)) co_return false;
  co_await settle_pending_mirror();  // before old may end the transaction
  primary_.filter.hold_ready(primary_.pending_replies - 1,
                             false);  // the COPY's, after those owed before
  --primary_.pending_replies;         // the COPY's Query, counted when the client sent it
  transaction_.reserve(primary_.status == 'I');
  auto answer = co_await run_on_old(whole, 1);
  if (!answer) co_return false;
  co_return co_await mirror_after_old(*answer, false, kept.bytes(), kept.bytes(), unit, false);
}

}  // namespace cutover::proxy
