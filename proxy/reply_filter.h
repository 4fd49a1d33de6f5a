// Takes out of old's answer stream the ParseCompletes that answer Parse messages cutover put
// there itself (a client's unnamed statement that old no longer had, see router/extended.h),
// so the client sees exactly the answers to what it sent. Pure: fed by the relay's scanner.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace cutover::proxy {

class ParseCompleteFilter {
 public:
  // The Parse went to old after `units_before` units still owed their ReadyForQuery, and after
  // `parses_before` Parse messages of its own unit: its answer is the next ParseComplete after
  // those, unless an ErrorResponse or ReadyForQuery of that unit comes first (the server then
  // skipped it).
  void expect(int units_before, int parses_before);

  // Whether chunks must go through filter(): a removal is expected or bytes are held.
  bool engaged() const { return !expected_.empty() || !held_.empty() || !cuts_.empty(); }

  // Called for each message of the chunk, in order, with the offset where it ends.
  void on_message(char type, size_t end);
  // After the chunk was scanned: the bytes to relay now. While a removal is still expected,
  // an unfinished message at the end is held back (its start may be the one to remove).
  std::string_view filter(std::string_view chunk);

 private:
  struct Expected {
    int units_before;
    int parses_before;
  };
  std::vector<Expected> expected_;
  std::vector<size_t> cuts_;  // ends (in the current chunk) of messages to remove
  size_t last_end_ = 0;       // end of the last whole message in the current chunk
  bool ended_ = false;        // a message ended in the current chunk
  std::string held_;
  std::string out_;
};

}  // namespace cutover::proxy
