// What cutover refuses while it mirrors, and the statement that makes old raise the refusal.
#include "router/refusals.h"

#include <gtest/gtest.h>

namespace cutover::router {
namespace {

TEST(RefusalsTest, TwoPhaseCommitAndSeveralCopiesInOneQueryAreRefused) {
  const Classifier classifier;
  const auto two_phase = refusal_while_mirroring(classifier.classify("PREPARE TRANSACTION 'x'"));
  ASSERT_TRUE(two_phase.has_value());
  EXPECT_NE(two_phase->message.find("two-phase commit"), std::string::npos);
  EXPECT_NE(two_phase->hint.find("COMMIT or ROLLBACK"), std::string::npos);
  const auto copies =
      refusal_while_mirroring(classifier.classify("COPY a FROM STDIN; COPY b FROM STDIN"));
  ASSERT_TRUE(copies.has_value());
  EXPECT_EQ(copies->hint, "Send each COPY ... FROM STDIN as a query of its own.");
  for (const char* sql : {"COPY a FROM STDIN", "BEGIN", "COMMIT", "INSERT INTO t VALUES (1)",
                          "SELECT 1; COPY a FROM STDIN; SELECT 2"}) {
    EXPECT_FALSE(refusal_while_mirroring(classifier.classify(sql)).has_value()) << sql;
  }
}

TEST(RefusalsTest, OldRaisesTheRefusalWithItsSqlstateMessageAndHint) {
  EXPECT_EQ(raising_statement({.message = "cutover: it's not mirrored", .hint = "Do it so."}),
            "DO $cutover$ BEGIN RAISE EXCEPTION USING ERRCODE = '0A000', MESSAGE = "
            "'cutover: it''s not mirrored', HINT = 'Do it so.'; END $cutover$");
}

}  // namespace
}  // namespace cutover::router
