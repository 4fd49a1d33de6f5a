#include "router/refusals.h"

#include "router/insert_defaults.h"

namespace cutover::router {

std::optional<Refusal> refusal_while_mirroring(const Classification& unit) {
  if (unit.two_phase) {
    // A transaction prepared on old would have to be prepared on new in the same step, and
    // finished on both by whoever commits it later: neither can be promised across two servers.
    return Refusal{
        .message =
            "cutover: two-phase commit (PREPARE TRANSACTION, COMMIT PREPARED, ROLLBACK "
            "PREPARED) cannot be mirrored to the new database",
        .hint =
            "End the transaction with COMMIT or ROLLBACK; cutover mirrors it to both "
            "databases. Finish transactions prepared before the migration directly on the "
            "old database."};
  }
  if (unit.copies_in_statements > 1) {
    return Refusal{.message =
                       "cutover: a query with more than one COPY FROM STDIN cannot be mirrored to "
                       "the new database",
                   .hint = "Send each COPY ... FROM STDIN as a query of its own."};
  }
  return std::nullopt;
}

std::string raising_statement(const Refusal& refusal) {
  return "DO $cutover$ BEGIN RAISE EXCEPTION USING ERRCODE = '0A000', MESSAGE = " +
         quote_literal(refusal.message) + ", HINT = " + quote_literal(refusal.hint) +
         "; END $cutover$";
}

}  // namespace cutover::router
