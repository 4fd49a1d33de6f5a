// CommitFence: a write waits for the commits old's answer may have seen (the tickets taken up
// to the horizon), never for its own session's or later ones, and a ticket given back on
// another thread wakes it. A hold (for verification's snapshot pair) waits for the tickets out
// and keeps new ones waiting until it ends.
#include "proxy/migration/commit_fence.h"

#include <gtest/gtest.h>

#include <atomic>
#include <memory>
#include <optional>
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

// A ticket admitted on an io_context of the calling thread (commits are not held).
CommitFence::Ticket admitted(CommitFence& fence) {
  asio::io_context io;
  auto ticket = asio::co_spawn(io, fence.admit(10s), asio::use_future);
  io.run();
  return ticket.get();
}

// Runs `fence.admit(...)` on an io_context of its own thread, keeping the ticket.
class Admitter {
 public:
  explicit Admitter(CommitFence& fence, std::chrono::milliseconds limit = 10s) {
    asio::co_spawn(
        io_,
        [&fence, limit, this]() -> asio::awaitable<void> {
          auto ticket = co_await fence.admit(limit);
          ticket_ = std::move(ticket);
          admitted_ = true;
        },
        asio::detached);
    thread_ = std::thread([this] { io_.run(); });
  }
  ~Admitter() { join(); }
  void join() {
    if (thread_.joinable()) thread_.join();
  }
  bool admitted() const { return admitted_.load(); }

 private:
  asio::io_context io_{1};
  CommitFence::Ticket ticket_;
  std::atomic<bool> admitted_{false};
  std::thread thread_;
};

// Until `done()`, at most 5 s.
template <typename Done>
bool soon(Done done) {
  const auto deadline = std::chrono::steady_clock::now() + 5s;
  while (!done() && std::chrono::steady_clock::now() < deadline) std::this_thread::yield();
  return done();
}

TEST(CommitFenceTest, WithNothingOutAWriteGoesAtOnce) {
  CommitFence fence;
  Waiter waiter(fence, fence.horizon(), 0, 10s);
  waiter.join();
  EXPECT_EQ(waiter.result(), 1);
}

TEST(CommitFenceTest, AWriteWaitsForACommitItMayHaveSeenUntilItIsGivenBack) {
  CommitFence fence;
  CommitFence::Ticket seen = admitted(fence);
  const uint64_t horizon = fence.horizon();
  CommitFence::Ticket later = admitted(fence);  // after the write's answer: not waited for
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
  CommitFence::Ticket own = admitted(fence);
  CommitFence::Ticket after = admitted(fence);
  Waiter waiter(fence, fence.horizon(), own.number(), 10s);  // neither its own nor `after`
  waiter.join();
  EXPECT_EQ(waiter.result(), 1);
}

TEST(CommitFenceTest, ACommitNeverGivenBackTimesTheWaitOut) {
  CommitFence fence;
  CommitFence::Ticket stuck = admitted(fence);
  Waiter waiter(fence, fence.horizon(), 0, 50ms);
  waiter.join();
  EXPECT_EQ(waiter.result(), 0);
  EXPECT_EQ(fence.waiting(), 0u);
}

TEST(CommitFenceTest, AHoldWaitsForTheCommitsOutAndKeepsNewOnesWaitingUntilItEnds) {
  CommitFence fence;
  CommitFence::Ticket half_done = admitted(fence);
  std::optional<CommitFence::Hold> hold;
  std::atomic<bool> holding{false};
  std::thread holder([&] {
    hold = fence.hold(10s);
    holding = true;
  });
  std::unique_ptr<Admitter> next;
  {
    // The holder waits for `half_done`; a commit starting now waits for the hold.
    next = std::make_unique<Admitter>(fence);
    ASSERT_TRUE(soon([&] { return fence.admitting() == 1; }));
    EXPECT_FALSE(holding.load());
    half_done.reset();
    holder.join();
    ASSERT_TRUE(hold.has_value());
    EXPECT_EQ(fence.admitting(), 1u);  // still waiting: the hold is on
    EXPECT_FALSE(next->admitted());
  }
  hold.reset();
  next->join();
  EXPECT_TRUE(next->admitted());
  EXPECT_EQ(fence.admitting(), 0u);
}

// A hold never stops a commit for long: past its limit it goes on, and the holder sees it by
// the horizon (the verifier then takes its pair again).
TEST(CommitFenceTest, ACommitPastItsLimitGoesOnDuringAHoldAndMovesTheHorizon) {
  CommitFence fence;
  std::optional<CommitFence::Hold> hold = fence.hold(1s);
  ASSERT_TRUE(hold.has_value());
  const uint64_t horizon = fence.horizon();
  Admitter late(fence, 20ms);
  late.join();
  EXPECT_TRUE(late.admitted());
  EXPECT_EQ(fence.horizon(), horizon + 1);
}

TEST(CommitFenceTest, AHoldThatCannotEmptyTheFenceGivesUpAndHoldsNothing) {
  CommitFence fence;
  CommitFence::Ticket stuck = admitted(fence);
  EXPECT_FALSE(fence.hold(50ms).has_value());
  Admitter next(fence);  // not held: admitted at once
  next.join();
  EXPECT_TRUE(next.admitted());
}

}  // namespace
}  // namespace cutover::proxy
