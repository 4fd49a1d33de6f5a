// Edits old's answer stream so the client sees exactly the answers to what it sent, while
// cutover puts its own messages in front of old too: the ParseComplete of a Parse cutover
// re-sent (a client's unnamed statement old no longer had, see router/extended.h), the whole
// answers to the BEGIN and COMMIT that wrap a mirrored autocommit write, and the
// ReadyForQuery of a mirrored unit, held back until the mirror has run it. Pure: fed by the
// relay's scanner, message by message, then chunk by chunk.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "protocol/backend.h"
#include "verify/row_hash.h"

namespace cutover::proxy {

// What old answered to a unit whose ReadyForQuery was held back.
struct HeldAnswer {
  char status = 'I';              // the transaction status of the held ReadyForQuery
  std::vector<std::string> tags;  // CommandComplete tags, in order
  std::string sqlstate;           // of the first ErrorResponse; empty when there was none
  // The DataRows it returned (RETURNING), as a set digest; only rows whose bodies the scanner
  // captured count.
  uint64_t rows = 0;
  verify::Digest rows_digest{};
  // The DataRow bodies themselves: only for a statement of cutover's own (keep_answer()), or
  // rows taken out for cutover (hold_ready()'s take_rows).
  std::vector<std::string> data_rows{};
  // Of an extended batch with Executes to take rows from (Holding::executes): how many of
  // data_rows each Execute's answer gave, in order.
  std::vector<size_t> taken_per_execute{};
};

class ReplyFilter {
 public:
  // Each takes effect for the unit after `units_before` units that still owe their
  // ReadyForQuery when it is called.

  // Takes out the ParseComplete answering a Parse cutover sent, after `parses_before` Parse
  // messages of its own unit; nothing when an ErrorResponse or ReadyForQuery of that unit
  // comes first (the server then skipped it). Counts it in `*taken_out` when given.
  void drop_parse_complete(int units_before, int parses_before, uint64_t* taken_out = nullptr);
  // Takes out that unit's whole answer (a statement cutover sent on its own behalf).
  void drop_answer(int units_before);
  // The same, reporting the answer through take_held(), rows and all (a statement cutover
  // sent to learn something from old).
  void keep_answer(int units_before);
  // The same, reporting only its tags, error and rows digest (a read run on old to compare it
  // with the answer new gave the client).
  void compare_answer(int units_before);
  // Takes out that unit's ReadyForQuery (and with `drop_tags` its CommandCompletes) and
  // reports the answer through take_held(); the rest of it goes to the client as it comes.
  // What observe() saw of the unit so far is part of that answer.
  enum class Taken : uint8_t { kNothing, kRows, kLastColumn };
  struct Holding {
    bool drop_tags = false;
    // Rows, or the last column of each, that cutover asked for (the keys of a write mirrored
    // by its effect): taken out and reported as data_rows (one column each).
    Taken taken = Taken::kNothing;
    // In an extended batch, `taken` per answer instead: for each Execute, and for each
    // Describe (whose RowDescription loses the last column, or becomes NoData), in order.
    std::vector<Taken> executes{};
    std::vector<Taken> describes{};
    // Edits an error old sent in the answer (its position moved into the client's text, the
    // context of cutover's own DO block taken out); true when it changed it.
    std::function<bool(protocol::ErrorFields&)> error_edit{};
  };
  void hold_ready(int units_before, Holding how);
  void hold_ready(int units_before);
  // Notes that unit's tags, error and rows as they pass, taking nothing out: a batch going to
  // old in pieces, whose ReadyForQuery hold_ready() may hold once its Sync came. Without
  // hold_ready() it ends with its unit, reporting nothing.
  void observe(int units_before);
  // What to take of that observed unit's answers from now on (Holding::executes, describes).
  void take_also(int units_before, const std::vector<Taken>& executes,
                 const std::vector<Taken>& describes);

  // Whether chunks must go through on_message() and filter().
  bool engaged() const { return !expected_.empty() || !held_bytes_.empty() || !cuts_.empty(); }

  // Called for each message of the chunk, in order, with the offset where it ends.
  void on_message(char type, std::string_view body, size_t end);
  // After the chunk was scanned: the bytes to relay now. While an edit is still expected, an
  // unfinished message at the end is held back (it may be one to take out).
  std::string_view filter(std::string_view chunk);

  // Answers whose ReadyForQuery was taken out, oldest first.
  bool has_held() const { return !answers_.empty(); }
  HeldAnswer take_held();

 private:
  enum class Edit {
    kParseComplete,
    kAnswer,
    kKeptAnswer,
    kComparedAnswer,
    kReady,
    kReadyAndTags,
    kObserved
  };
  struct Expected {
    Edit edit;
    int units_before;
    int parses_before;
    HeldAnswer answer;
    verify::RowSetHasher rows{};
    uint64_t* taken_out = nullptr;
    Taken taken = Taken::kNothing;
    std::function<bool(protocol::ErrorFields&)> error_edit{};
    std::vector<Taken> executes{};  // Holding's
    std::vector<Taken> describes{};
    size_t executes_seen = 0;
    size_t describes_seen = 0;
    size_t taken_rows = 0;  // of the current Execute
  };
  struct Cut {
    size_t start;  // kFromHeld: the first message of the chunk, which began in held bytes
    size_t end;
    std::string replacement{};  // what goes in its place (a DataRow without cutover's column)
  };
  static constexpr size_t kFromHeld = static_cast<size_t>(-1);

  // What `e` does with this message of its unit: true when the message is taken out (and
  // `replacement` what goes in its place, when anything does).
  static bool edits(Expected& e, char type, std::string_view body, std::string& replacement);
  // What `e` takes of this message: the unit's `taken`, or in an extended batch that of the
  // Execute or Describe it answers (counted as they pass).
  static Taken taken_for(Expected& e, char type);
  // A RowDescription or DataRow without its last column (kLastColumn), which goes to `e`.
  static void take_last_column(Expected& e, char type, std::string_view body,
                               std::string& replacement);
  // An ErrorResponse as e.error_edit changes it; false when it does not.
  static bool edits_error(const Expected& e, std::string_view body, std::string& replacement);

  std::deque<Expected> expected_;
  std::deque<HeldAnswer> answers_;
  std::vector<Cut> cuts_;   // messages to remove, by their offsets in the current chunk
  size_t last_end_ = 0;     // end of the last whole message in the current chunk
  bool ended_ = false;      // a message ended in the current chunk
  std::string held_bytes_;  // an unfinished message held back from the last chunk
  std::string out_;
};

}  // namespace cutover::proxy
