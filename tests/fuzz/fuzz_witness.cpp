// libFuzzer target: the witnesses of a write's rows (verify/row_effects.h), as a server could
// send them, split at newlines into old's and new's (before and after the first NUL). It never
// crashes; the same witnesses in another order are equal and have no differences; at most
// `limit` differences are named, each a key as PostgreSQL names a row; witness_key() takes
// any text. Seeds: corpus/witness (written by hand: PostgreSQL's json_build_object output).
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "verify/row_effects.h"

namespace {

void check(bool ok) {
  if (!ok) __builtin_trap();
}

std::vector<std::string> lines(std::string_view text) {
  std::vector<std::string> out;
  while (!text.empty()) {
    const size_t end = text.find('\n');
    out.emplace_back(text.substr(0, end));
    text.remove_prefix(end == std::string_view::npos ? text.size() : end + 1);
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using cutover::verify::RowEffects;
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const size_t split = input.find('\0');
  const std::vector<std::string> on_old = lines(input.substr(0, split));
  const std::vector<std::string> on_new =
      split == std::string_view::npos ? on_old : lines(input.substr(split + 1));
  RowEffects old_side;
  RowEffects reversed;
  RowEffects new_side;
  for (const std::string& w : on_old) old_side.add(w);
  for (auto it = on_old.rbegin(); it != on_old.rend(); ++it) reversed.add(*it);
  for (const std::string& w : on_new) new_side.add(w);
  check(old_side == reversed);
  check(cutover::verify::differences(old_side, reversed, 10).empty());
  constexpr size_t kLimit = 3;
  const auto found = cutover::verify::differences(old_side, new_side, kLimit);
  check(found.size() <= kLimit);
  for (const auto& row : found) check(row.key.starts_with("(") && row.key.ends_with(")"));
  for (const std::string& w : on_old) (void)cutover::verify::witness_key(w);
  return 0;
}
