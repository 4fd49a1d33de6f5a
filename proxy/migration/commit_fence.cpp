#include "proxy/migration/commit_fence.h"

#include <algorithm>

namespace cutover::proxy {

CommitFence::Ticket& CommitFence::Ticket::operator=(Ticket&& other) noexcept {
  if (this != &other) {
    reset();
    fence_ = std::exchange(other.fence_, nullptr);
    number_ = std::exchange(other.number_, 0);
  }
  return *this;
}

void CommitFence::Ticket::reset() noexcept {
  if (fence_ != nullptr) fence_->give_back(number_);
  fence_ = nullptr;
  number_ = 0;
}

CommitFence::Ticket CommitFence::take() {
  std::lock_guard lock(mutex_);
  out_.insert(++last_);
  return Ticket(this, last_);
}

uint64_t CommitFence::horizon() const {
  std::lock_guard lock(mutex_);
  return last_;
}

size_t CommitFence::waiting() const {
  std::lock_guard lock(mutex_);
  return waiters_.size();
}

bool CommitFence::clear_through(uint64_t limit) const {
  return out_.empty() || *out_.begin() > limit;
}

// Called from destructors: whatever fails here (a mutex that cannot lock, no memory for the
// wake-up) cannot be reported, and a waiter not woken still looks again at its timeout.
void CommitFence::give_back(uint64_t number) noexcept {
  try {
    std::lock_guard lock(mutex_);
    out_.erase(number);
    for (Waiter& waiter : waiters_) {
      if (!waiter.timer || !clear_through(waiter.limit)) continue;
      // Each session's timer lives on its own thread's io_context: cancelled there.
      asio::post(waiter.timer->get_executor(), [timer = waiter.timer] { timer->cancel(); });
      waiter.timer.reset();  // woken once
    }
  } catch (...) {  // NOLINT(bugprone-empty-catch): see above
  }
}

asio::awaitable<bool> CommitFence::wait(uint64_t horizon, uint64_t own,
                                        std::chrono::milliseconds timeout) {
  const uint64_t limit = own != 0 ? std::min(horizon, own - 1) : horizon;
  auto timer = std::make_shared<asio::steady_timer>(co_await asio::this_coro::executor);
  std::list<Waiter>::iterator mine;
  {
    std::lock_guard lock(mutex_);
    if (clear_through(limit)) co_return true;
    timer->expires_after(timeout);
    mine = waiters_.insert(waiters_.end(), Waiter{limit, timer});
  }
  // Woken by give_back() (cancelled) or at the timeout: either way, looked at again.
  const auto waited = co_await timer->async_wait(asio::as_tuple(asio::use_awaitable));
  (void)waited;
  std::lock_guard lock(mutex_);
  waiters_.erase(mine);
  co_return clear_through(limit);
}

}  // namespace cutover::proxy
