#include "proxy/reply_filter.h"

#include <algorithm>

namespace cutover::proxy {
namespace {

constexpr size_t kParseCompleteSize = 5;  // '1' and the length word 4

}  // namespace

void ParseCompleteFilter::expect(int units_before, int parses_before) {
  expected_.push_back({units_before, parses_before});
}

void ParseCompleteFilter::on_message(char type, size_t end) {
  last_end_ = end;
  ended_ = true;
  for (auto& e : expected_) {
    if (e.units_before > 0) {
      if (type == 'Z') --e.units_before;
    } else if (type == '1' && e.parses_before > 0) {
      --e.parses_before;
    } else if (type == '1') {
      cuts_.push_back(end);
      e.units_before = -1;  // done
    } else if (type == 'E' || type == 'Z') {
      e.units_before = -1;
    }
  }
  std::erase_if(expected_, [](const Expected& e) { return e.units_before < 0; });
}

std::string_view ParseCompleteFilter::filter(std::string_view chunk) {
  const size_t offset = held_.size();
  out_.assign(held_);
  out_.append(chunk);
  held_.clear();
  size_t keep = out_.size();
  if (!expected_.empty()) keep = ended_ ? offset + last_end_ : 0;
  // Later cuts first, so the earlier offsets stay valid.
  for (auto it = cuts_.rbegin(); it != cuts_.rend(); ++it) {
    out_.erase(offset + *it - kParseCompleteSize, kParseCompleteSize);
    keep -= kParseCompleteSize;
  }
  cuts_.clear();
  ended_ = false;
  last_end_ = 0;
  held_.assign(out_, keep);
  out_.resize(keep);
  return out_;
}

}  // namespace cutover::proxy
