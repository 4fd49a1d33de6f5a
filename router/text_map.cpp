#include "router/text_map.h"

#include <algorithm>
#include <charconv>

namespace cutover::router {
namespace {

bool continuation(char c) { return (static_cast<unsigned char>(c) & 0xC0) == 0x80; }

// The byte offset of character `n` (from 0) of UTF-8 `text`; its size past the end.
size_t byte_of(std::string_view text, size_t n) {
  size_t at = 0;
  for (size_t chars = 0; at < text.size(); ++at) {
    if (continuation(text[at])) continue;
    if (chars++ == n) return at;
  }
  return text.size();
}

size_t chars_before(std::string_view text, size_t offset) {
  offset = std::min(offset, text.size());
  return static_cast<size_t>(std::count_if(text.begin(), text.begin() + static_cast<long>(offset),
                                           [](char c) { return !continuation(c); }));
}

}  // namespace

void TextMap::edit(size_t at, size_t erase, size_t inserted) {
  if (rewrites_.empty()) begin_rewrite();
  rewrites_.back().push_back({at, erase, inserted});
}

size_t TextMap::to_original(size_t offset) const {
  for (auto rewrite = rewrites_.rbegin(); rewrite != rewrites_.rend(); ++rewrite) {
    std::vector<Edit> edits = *rewrite;
    std::stable_sort(edits.begin(), edits.end(),
                     [](const Edit& a, const Edit& b) { return a.at < b.at; });
    size_t before = offset;  // in the text before this rewrite
    long shift = 0;          // what the edits so far added
    for (const Edit& e : edits) {
      const size_t start = e.at + static_cast<size_t>(shift);  // where it stands after
      if (offset < start) break;
      if (offset < start + e.inserted) {  // inside what it put in
        before = e.at;
        break;
      }
      shift += static_cast<long>(e.inserted) - static_cast<long>(e.erase);
      before = offset - static_cast<size_t>(shift);
    }
    offset = before;
  }
  return offset;
}

std::optional<std::string> TextMap::position_in(std::string_view position, std::string_view ran,
                                                std::string_view sent) const {
  size_t n = 0;
  const auto [end, error] = std::from_chars(position.data(), position.data() + position.size(), n);
  if (error != std::errc() || end != position.data() + position.size() || n == 0) {
    return std::nullopt;
  }
  const size_t offset = to_original(byte_of(ran, n - 1));
  return std::to_string(chars_before(sent, offset) + 1);
}

}  // namespace cutover::router
