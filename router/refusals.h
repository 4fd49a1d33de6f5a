// What cutover refuses while it mirrors, before old runs it: a unit it can neither give new with
// the same effect nor journal. The client gets SQLSTATE 0A000 (feature_not_supported; 53100 or
// 54000 for a commit the journal cannot take), a
// message naming the problem and a hint saying how to write it instead; old raises the error
// itself (raising_statement()), so the client's transaction fails exactly as it would on an
// error of the server's own, and new never sees the unit. Pure.
// Not what is mirrored (proxy/mirror/mirror.h) or pinned (pinning.h).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "router/classify.h"

namespace cutover::router {

// Why: the `reason` label of cutover_mirror_refused_total and the log's unit_refused.
enum class RefusalReason : uint8_t {
  kTwoPhase,
  kCopies,
  kUnsafeDdl,
  kUnsafeWrite,
  kFastPath,
  kJournalUnwritable,    // new needs the transaction from the journal, which cannot be written
  kTransactionTooLarge,  // ... or which cannot hold it (over 64 MB)
  kDataDependent,        // rows chosen by other data that cannot be mirrored by their keys
};
inline constexpr size_t kRefusalReasons = 8;
std::string_view reason_name(RefusalReason reason);

struct Refusal {
  std::string message;
  std::string hint;
  RefusalReason reason = RefusalReason::kTwoPhase;
  std::string sqlstate = "0A000";
};

// The refusal for `unit` (a whole simple-protocol Query, its text `sql`) while a mirror is
// kept; nullopt when it may run. DDL is parsed once more here: an ALTER TABLE that fills
// existing rows with values each server computes for itself (ADD COLUMN with a DEFAULT of
// now() or random(), a serial or identity column, ALTER COLUMN TYPE ... USING random()).
std::optional<Refusal> refusal_while_mirroring(const Classification& unit, std::string_view sql);

// The refusal of a write storing values each server computes for itself (`what`: the pinner's
// list, "random(), defaults of t"), when migration.mirror.unsafe_writes is refuse.
Refusal unsafe_write_refusal(const std::string& what);

// The refusal of a fast-path function call (a FunctionCall message: libpq's lo_* large-object
// calls): neither its function nor its effect is visible to cutover.
Refusal fast_path_refusal();

// The refusal of a write, or of the commit of a transaction, that new needs from the mirror
// journal (new is behind, or missed part of it) when the journal cannot take it: unwritable
// (53100 disk_full; `journal_dir` names it) or the transaction too large (54000).
Refusal journal_refusal(RefusalReason reason, std::string_view journal_dir);

// The refusal of an UPDATE or DELETE whose rows or values follow from other data (so it is
// mirrored by the keys of the rows it changed, router/row_effect.h) when that cannot be done:
// `problem` says why ("t has no primary key ...").
Refusal data_dependent_refusal(std::string_view problem);

// The refusal of COPY ... FROM STDIN in the extended protocol: its data cannot be kept for new
// the way a simple Query's is.
Refusal extended_copy_refusal();

// One statement that makes the server raise `refusal` with its SQLSTATE (a DO block).
std::string raising_statement(const Refusal& refusal);

}  // namespace cutover::router
