// What cutover refuses while it mirrors, and the statement that makes old raise the refusal.
#include "router/refusals.h"

#include <gtest/gtest.h>

namespace cutover::router {
namespace {

TEST(RefusalsTest, TwoPhaseCommitAndSeveralCopiesInOneQueryAreRefused) {
  const Classifier classifier;
  const auto refusal = [&](std::string_view sql) {
    return refusal_while_mirroring(classifier.classify(sql), sql);
  };
  const auto two_phase = refusal("PREPARE TRANSACTION 'x'");
  ASSERT_TRUE(two_phase.has_value());
  EXPECT_NE(two_phase->message.find("two-phase commit"), std::string::npos);
  EXPECT_NE(two_phase->hint.find("COMMIT or ROLLBACK"), std::string::npos);
  EXPECT_EQ(reason_name(two_phase->reason), "two_phase");
  const auto copies = refusal("COPY a FROM STDIN; COPY b FROM STDIN");
  ASSERT_TRUE(copies.has_value());
  EXPECT_EQ(copies->hint, "Send each COPY ... FROM STDIN as a query of its own.");
  for (const char* sql : {"COPY a FROM STDIN", "BEGIN", "COMMIT", "INSERT INTO t VALUES (1)",
                          "SELECT 1; COPY a FROM STDIN; SELECT 2"}) {
    EXPECT_FALSE(refusal(sql).has_value()) << sql;
  }
}

TEST(RefusalsTest, AnAlterTableFillingRowsWithValuesEachServerComputesIsRefused) {
  const Classifier classifier;
  const auto refusal = [&](std::string_view sql) {
    return refusal_while_mirroring(classifier.classify(sql), sql);
  };
  const std::pair<const char*, const char*> refused[] = {
      {"alter table t add column at timestamptz default now()", "t.at"},
      {"ALTER TABLE s.t ADD COLUMN r float8 DEFAULT random() NOT NULL", "t.r"},
      {"alter table t add u uuid default gen_random_uuid()", "t.u"},
      {"alter table t add column at date default current_date", "t.at"},
      {"alter table t add column n bigserial", "t.n"},
      {"alter table t add column n int generated always as identity", "t.n"},
      {"alter table t add column a int, add column b int default nextval('s')", "t.b"},
      {"alter table t alter column v type text using md5(random()::text)", "t.v"}};
  for (const auto& [sql, column] : refused) {
    const auto found = refusal(sql);
    ASSERT_TRUE(found.has_value()) << sql;
    EXPECT_EQ(reason_name(found->reason), "unsafe_ddl");
    EXPECT_NE(found->message.find("column " + std::string(column) + " with values"),
              std::string::npos)
        << found->message;
    EXPECT_NE(found->hint.find("fill it with UPDATE"), std::string::npos);
  }
  for (const char* sql : {"alter table t add column c int default 7",
                          "alter table t alter column c set default now()",
                          "alter table t alter column v type bigint using v::bigint",
                          "create table n (id bigserial, at timestamptz default now())"}) {
    EXPECT_FALSE(refusal(sql).has_value()) << sql;
  }
}

TEST(RefusalsTest, EveryReasonHasItsName) {
  EXPECT_EQ(reason_name(RefusalReason::kTwoPhase), "two_phase");
  EXPECT_EQ(reason_name(RefusalReason::kCopies), "copies");
  EXPECT_EQ(reason_name(RefusalReason::kUnsafeDdl), "unsafe_ddl");
  EXPECT_EQ(reason_name(RefusalReason::kUnsafeWrite), "unsafe_write");
  EXPECT_EQ(reason_name(fast_path_refusal().reason), "fast_path");
}

TEST(RefusalsTest, AnUnsafeWriteIsNamedWithTheWayToWriteItSafely) {
  const Refusal refusal = unsafe_write_refusal("random(), defaults of t");
  EXPECT_EQ(reason_name(refusal.reason), "unsafe_write");
  EXPECT_NE(refusal.message.find("(random(), defaults of t)"), std::string::npos);
  EXPECT_NE(refusal.hint.find("unsafe_writes: allow"), std::string::npos);
}

TEST(RefusalsTest, OldRaisesTheRefusalWithItsSqlstateMessageAndHint) {
  EXPECT_EQ(raising_statement({.message = "cutover: it's not mirrored", .hint = "Do it so."}),
            "DO $cutover$ BEGIN RAISE EXCEPTION USING ERRCODE = '0A000', MESSAGE = "
            "'cutover: it''s not mirrored', HINT = 'Do it so.'; END $cutover$");
}

}  // namespace
}  // namespace cutover::router
