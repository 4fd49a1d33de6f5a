// Messages kept for later (a transaction's mirrored units for the journal, a batch that went
// to old in pieces, a COPY's data), up to a bound: past it nothing more is kept and
// overflowed() says so. Pure.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace cutover::proxy {

class KeptMessages {
 public:
  static constexpr size_t kMaxBytes = size_t{64} << 20;

  void append(std::string_view messages) {
    if (overflowed_ || bytes_.size() + messages.size() > kMaxBytes) {
      overflowed_ = true;
      return;
    }
    bytes_.append(messages);
  }
  const std::string& bytes() const { return bytes_; }
  bool overflowed() const { return overflowed_; }

 private:
  std::string bytes_;
  bool overflowed_ = false;
};

}  // namespace cutover::proxy
