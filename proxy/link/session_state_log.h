// The session state a client set (SET, PREPARE, LISTEN, ... as whole units), kept so that a
// fresh connection to the secondary can be given the same state, and so that a journaled
// transaction can be replayed with the session's settings. Bounded: a session that piles up
// more than kMaxBytes of it is no longer kept (full() says so; its log is then empty).
// Pure; not the sending of it (secondary.h).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace cutover::proxy {

class SessionStateLog {
 public:
  static constexpr size_t kMaxBytes = size_t{1} << 20;

  // False when the unit made the log full (the first time) or it already was.
  bool record(std::string_view unit) {
    if (full_) return false;
    bytes_ += unit.size();
    if (bytes_ > kMaxBytes) {
      full_ = true;
      units_.clear();
      return false;
    }
    units_.emplace_back(unit);
    return true;
  }
  bool full() const { return full_; }
  const std::vector<std::string>& units() const { return units_; }
  // The first `count` units (every one by default) in order, as one string: the prefix of a
  // journaled transaction.
  std::string joined(size_t count = static_cast<size_t>(-1)) const {
    std::string out;
    for (size_t i = 0; i < units_.size() && i < count; ++i) out += units_[i];
    return out;
  }
  void clear() { units_.clear(); }

 private:
  std::vector<std::string> units_;
  size_t bytes_ = 0;
  bool full_ = false;
};

}  // namespace cutover::proxy
