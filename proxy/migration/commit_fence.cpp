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

CommitFence::Ticket CommitFence::take_locked() {
  out_.insert(++last_);
  return Ticket(this, last_);
}

asio::awaitable<CommitFence::Ticket> CommitFence::admit(std::chrono::milliseconds limit) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  {
    std::lock_guard lock(mutex_);
    if (!held_) co_return take_locked();  // every commit comes here: no timer unless held
  }
  auto timer = std::make_shared<asio::steady_timer>(co_await asio::this_coro::executor);
  for (;;) {
    std::list<Waiter>::iterator mine;
    {
      std::lock_guard lock(mutex_);
      // Held again, or woken by an earlier release(): wait on, up to the limit.
      if (!held_ || std::chrono::steady_clock::now() >= deadline) co_return take_locked();
      timer->expires_at(deadline);
      mine = admitting_.insert(admitting_.end(), Waiter{0, timer});
    }
    // Woken by release() (cancelled) or at the limit; looked at again either way.
    const auto waited = co_await timer->async_wait(asio::as_tuple(asio::use_awaitable));
    (void)waited;
    std::lock_guard lock(mutex_);
    admitting_.erase(mine);
  }
}

std::optional<CommitFence::Hold> CommitFence::hold(std::chrono::milliseconds timeout) {
  std::unique_lock lock(mutex_);
  held_ = true;
  if (back_.wait_for(lock, timeout, [this] { return out_.empty(); })) return Hold(this);
  lock.unlock();
  release();
  return std::nullopt;
}

CommitFence::Hold& CommitFence::Hold::operator=(Hold&& other) noexcept {
  if (this != &other) {
    if (fence_ != nullptr) fence_->release();
    fence_ = std::exchange(other.fence_, nullptr);
  }
  return *this;
}

CommitFence::Hold::~Hold() {
  if (fence_ != nullptr) fence_->release();
}

void CommitFence::release() noexcept {
  try {
    std::lock_guard lock(mutex_);
    held_ = false;
    wake(admitting_, [](const Waiter&) { return true; });
  } catch (...) {  // NOLINT(bugprone-empty-catch): as give_back(); admit() ends at its limit
  }
}

// Each session's timer lives on its own thread's io_context: cancelled there.
void CommitFence::wake(std::list<Waiter>& waiters,
                       const std::function<bool(const Waiter&)>& which) {
  for (Waiter& waiter : waiters) {
    if (!waiter.timer || !which(waiter)) continue;
    asio::post(waiter.timer->get_executor(), [timer = waiter.timer] { timer->cancel(); });
    waiter.timer.reset();  // woken once
  }
}

uint64_t CommitFence::horizon() const {
  std::lock_guard lock(mutex_);
  return last_;
}

size_t CommitFence::admitting() const {
  std::lock_guard lock(mutex_);
  return admitting_.size();
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
    wake(waiters_, [this](const Waiter& waiter) { return clear_through(waiter.limit); });
    if (out_.empty()) back_.notify_all();
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
