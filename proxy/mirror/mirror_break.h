// Why the rest of a client's transaction does not reach new as it runs: new's copy of the
// transaction is no longer whole (or, journaled, never started), so nothing more of it goes
// there and it ends with a ROLLBACK on new; kNone while it is whole.
#pragma once

#include <cstdint>
#include <string_view>

namespace cutover::proxy {

enum class MirrorBreak : uint8_t {
  kNone,
  kJournaled,         // new is behind: the whole transaction goes to the journal
  kUnknownStatement,  // a statement cutover cannot give new (ambiguous, past its bound)
  kBatchNotKept,      // a batch sent in pieces was too large to keep for new
  kEarlierSkipped,    // an earlier unit was not sent to new (new was down)
  kEarlierFailed,     // an earlier write failed on new
};

// For the log (mirror_skipped's reason).
constexpr std::string_view why(MirrorBreak reason) {
  switch (reason) {
    case MirrorBreak::kNone:
      return "";
    case MirrorBreak::kJournaled:
      return "new is behind: the transaction is journaled";
    case MirrorBreak::kUnknownStatement:
      return "statement unknown to cutover";
    case MirrorBreak::kBatchNotKept:
      return "batch not kept whole for new";
    case MirrorBreak::kEarlierSkipped:
      return "an earlier unit of the transaction was skipped";
    case MirrorBreak::kEarlierFailed:
      return "an earlier write of the transaction failed on new";
  }
  return "";
}

}  // namespace cutover::proxy
