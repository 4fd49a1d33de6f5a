// A wake-up for coroutines on one executor that wait for some condition of theirs to change:
// wait() returns when notify() is called or the waiting coroutine is cancelled; the waiter
// then looks at its condition again. Not a latch: a notify() while nobody waits is not kept,
// so a waiter checks its condition before every wait. (Built on a timer that never expires,
// the usual Asio idiom, so that no waiter needs a lock: everything runs on one executor.)
#pragma once

#include <chrono>

#include "proxy/net/asio.h"

namespace cutover::proxy {

class Event {
 public:
  explicit Event(const asio::any_io_executor& executor)
      : timer_(executor, std::chrono::steady_clock::time_point::max()) {}

  // True when woken by notify(); false when the waiting coroutine was cancelled.
  asio::awaitable<bool> wait() {
    timer_.expires_at(std::chrono::steady_clock::time_point::max());
    co_await timer_.async_wait();
    auto state = co_await asio::this_coro::cancellation_state;
    co_return state.cancelled() == asio::cancellation_type::none;
  }

  // Wakes every coroutine waiting now.
  void notify() { timer_.cancel(); }

 private:
  Timer timer_;
};

}  // namespace cutover::proxy
