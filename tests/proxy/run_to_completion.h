// Runs one coroutine to its end on an io_context of its own and returns what it returned (or
// rethrows what escaped it): for unit tests of the session's objects, which are coroutines.
#pragma once

#include <utility>

#include "proxy/net/asio.h"

namespace cutover::proxy {

template <typename T>
T run_to_completion(asio::awaitable<T> work) {
  asio::io_context io;
  auto result = asio::co_spawn(io, std::move(work), asio::use_future);
  io.run();
  return result.get();
}

}  // namespace cutover::proxy
