// The completion handler for coroutines that run on their own (co_spawn without anyone
// awaiting them): what escapes one is logged as `event` with its message, never lost as it
// would be with asio::detached.
#pragma once

#include <exception>
#include <string_view>

#include "proxy/base/log.h"

namespace cutover::proxy {

class LogEscaped {
 public:
  explicit LogEscaped(std::string_view event) : event_(event) {}
  // What the coroutine returned, if anything, is not wanted.
  template <typename... Result>
  void operator()(const std::exception_ptr& escaped, Result&&... /*returned*/) const {
    if (!escaped) return;
    try {
      std::rethrow_exception(escaped);
    } catch (const std::exception& e) {
      log::error(event_, {{"error", e.what()}});
    } catch (...) {
      log::error(event_, {{"error", "unknown exception"}});
    }
  }

 private:
  std::string_view event_;  // a literal: outlives the coroutine
};

}  // namespace cutover::proxy
