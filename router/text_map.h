// Where a place in a statement text cutover rewrote (pinned time functions, filled-in
// defaults) stands in the text the client sent: PostgreSQL reports an error's position in the
// text it ran (ErrorResponse field 'P', in characters from 1), and the client, which shows it
// under its own text (psql's "LINE 1: ... ^"), must get the place in that one. Pure.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace cutover::router {

class TextMap {
 public:
  // A rewrite of the text as rewritten so far begins; its edits follow.
  void begin_rewrite() { rewrites_.emplace_back(); }
  // In the current rewrite: `erase` bytes at `at` (of the text before it) became `inserted`
  // bytes. Edits may come in any order.
  void edit(size_t at, size_t erase, size_t inserted);
  bool empty() const { return rewrites_.empty(); }
  void clear() { rewrites_.clear(); }

  // A byte offset in the final text, in the client's text; a place inside what a rewrite put
  // in stands for the start of what it replaced.
  size_t to_original(size_t offset) const;

  // An error's position field (characters from 1) in the final text `ran`, as the position in
  // the client's text `sent` (UTF-8); nullopt when `position` is no such number.
  std::optional<std::string> position_in(std::string_view position, std::string_view ran,
                                         std::string_view sent) const;

 private:
  struct Edit {
    size_t at;
    size_t erase;
    size_t inserted;
  };
  std::vector<std::vector<Edit>> rewrites_;  // in the order they were made
};

}  // namespace cutover::router
