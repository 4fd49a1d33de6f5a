// CommitFence: a write waits for the commits old's answer may have seen (the tickets taken up
// to the horizon), never for its own session's or later ones, and a ticket given back on
// another thread wakes it.
#include "proxy/migration/commit_fence.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

namespace cutover::proxy {
namespace {

using namespace std::chrono_literals;

// Runs `fence.wait(...)` to completion on an io_context of its own thread.
class Waiter {
 public:
  Waiter(CommitFence& fence, uint64_t horizon, uint64_t own, std::chrono::milliseconds timeout) {
    asio::co_spawn(
        io_,
        [&fence, horizon, own, timeout, this]() -> asio::awaitable<void> {
          const bool passed = co_await fence.wait(horizon, own, timeout);
          result_ = passed ? 1 : 0;
        },
        asio::detached);
    thread_ = std::thread([this] { io_.run(); });
  }
  ~Waiter() { join(); }
  void join() {
    if (thread_.joinable()) thread_.join();
  }
  int result() const { return result_.load(); }  // -1 while waiting, else 1 passed, 0 timed out

 private:
  asio::io_context io_{1};
  std::atomic<int> result_{-1};
  std::thread thread_;
};

TEST(CommitFenceTest, WithNothingOutAWriteGoesAtOnce) {
  CommitFence fence;
  Waiter waiter(fence, fence.horizon(), 0, 10s);
  waiter.join();
  EXPECT_EQ(waiter.result(), 1);
}

TEST(CommitFenceTest, AWriteWaitsForACommitItMayHaveSeenUntilItIsGivenBack) {
  CommitFence fence;
  CommitFence::Ticket seen = fence.take();
  const uint64_t horizon = fence.horizon();
  CommitFence::Ticket later = fence.take();  // after the write's answer: not waited for
  Waiter waiter(fence, horizon, 0, 10s);
  const auto deadline = std::chrono::steady_clock::now() + 5s;  // until it is parked
  while (fence.waiting() != 1 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::yield();
  }
  ASSERT_EQ(fence.waiting(), 1u);
  EXPECT_EQ(waiter.result(), -1);
  const auto given_back = std::chrono::steady_clock::now();
  std::thread([&] { seen.reset(); }).join();  // on another thread, as another session's
  waiter.join();
  EXPECT_EQ(waiter.result(), 1);
  EXPECT_LT(std::chrono::steady_clock::now() - given_back, 5s);  // woken, not timed out
  EXPECT_EQ(fence.waiting(), 0u);
}

TEST(CommitFenceTest, ASessionHoldingATicketWaitsOnlyForEarlierOnes) {
  CommitFence fence;
  CommitFence::Ticket own = fence.take();
  CommitFence::Ticket after = fence.take();
  Waiter waiter(fence, fence.horizon(), own.number(), 10s);  // neither its own nor `after`
  waiter.join();
  EXPECT_EQ(waiter.result(), 1);
}

TEST(CommitFenceTest, ACommitNeverGivenBackTimesTheWaitOut) {
  CommitFence fence;
  CommitFence::Ticket stuck = fence.take();
  Waiter waiter(fence, fence.horizon(), 0, 50ms);
  waiter.join();
  EXPECT_EQ(waiter.result(), 0);
  EXPECT_EQ(fence.waiting(), 0u);
}

}  // namespace
}  // namespace cutover::proxy
