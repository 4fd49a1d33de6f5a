// Extended-query batches: what they execute, whether they may run on new, and the statements
// each side is given before it runs them, as drivers really send them (libpq/psycopg unnamed,
// pgbench -M prepared, asyncpg with and without its statement cache, JDBC's named switch).
#include "router/extended.h"

#include <gtest/gtest.h>

#include "protocol/frontend.h"
#include "router/phase.h"

namespace cutover::router {
namespace {

using protocol::Bind;
using protocol::Close;
using protocol::Describe;
using protocol::Execute;
using protocol::Parse;
using protocol::Sync;

class ExtendedTest : public ::testing::Test {
 protected:
  // Writes the messages into one batch.
  template <typename... M>
  static std::string batch(const M&... messages) {
    std::string out;
    (protocol::encode(messages, out), ...);
    return out;
  }
  static std::string parse_message(const std::string& name, const std::string& sql) {
    return batch(Parse{.statement = name, .query = sql});
  }

  BatchPlan plan(const std::string& b) {
    return statements.plan(b, [this](std::string_view sql) -> const Classification& {
      ++parses;
      return cache.classify(sql);
    });
  }
  // Plans `b`, sends it (as the plan says) to `side`, and returns the plan.
  BatchPlan run(const std::string& b, Backend side) {
    BatchPlan p = plan(b);
    statements.apply(b, p, side == Backend::kOld, side == Backend::kNew);
    return p;
  }

  Classifier classifier;
  ClassificationCache cache{classifier, 100};
  PreparedStatements statements;
  int parses = 0;
};

TEST_F(ExtendedTest, WhatNewCanRunAsAMirrorIsToldApartFromWhatMayMove) {
  // asyncpg's first execution: a named Parse, Describe and Flush, then the rest. It may not
  // move (old is the home of named statements, and it came in pieces), but new can run it.
  BatchPlan first = run(batch(Parse{.statement = "s1", .query = "insert into t values ($1)"},
                              Describe{.kind = 'S', .name = "s1"}, protocol::Flush{},
                              Bind{.statement = "s1", .parameters = {"1"}}, Execute{}, Sync{}),
                        Backend::kOld);
  EXPECT_EQ(first.unit.kind, Kind::kWrite);
  EXPECT_FALSE(first.movable);
  EXPECT_TRUE(first.new_can_run);
  // A later write with s1: new is given it first.
  BatchPlan later = plan(batch(Bind{.statement = "s1", .parameters = {"2"}}, Execute{}, Sync{}));
  EXPECT_TRUE(later.new_can_run);
  EXPECT_EQ(later.new_prefix,
            batch(Close{.kind = 'S', .name = "s1"},
                  Parse{.statement = "s1", .query = "insert into t values ($1)"}));
  // A statement cutover never saw (or a portal of an earlier batch) cannot be given to new.
  EXPECT_FALSE(plan(batch(Bind{.statement = "unseen"}, Execute{}, Sync{})).new_can_run);
  EXPECT_FALSE(plan(batch(Execute{.portal = "earlier"}, Sync{})).new_can_run);
}

TEST_F(ExtendedTest, AnUnnamedReadWithItsParseMayRunAnywhere) {
  BatchPlan p = plan(batch(Parse{.query = "select * from t where id = $1"},
                           Bind{.parameters = {"7"}}, Describe{.kind = 'P'}, Execute{}, Sync{}));
  EXPECT_EQ(p.unit.kind, Kind::kRead);
  EXPECT_TRUE(p.executes);
  EXPECT_TRUE(p.movable);
  EXPECT_EQ(p.new_prefix, "");
  EXPECT_EQ(p.old_prefix, "");
  EXPECT_EQ(p.unit.tables, std::vector<std::string>{"t"});
}

TEST_F(ExtendedTest, TheHighestKindOfTheExecutedStatementsWins) {
  BatchPlan p = plan(batch(Parse{.query = "select 1"}, Bind{}, Execute{},
                           Parse{.query = "update t set v = $1"}, Bind{}, Execute{}, Sync{}));
  EXPECT_EQ(p.unit.kind, Kind::kWrite);
  EXPECT_EQ(p.unit.fingerprint, fingerprint("select 1"));
}

TEST_F(ExtendedTest, APrepareOnlyBatchExecutesNothingAndANamedParseStaysOnOld) {
  // pgbench -M prepared and asyncpg prepare first: Parse (Describe) Sync.
  BatchPlan p = plan(batch(Parse{.statement = "P0_1", .query = "select $1::int"},
                           Describe{.kind = 'S', .name = "P0_1"}, Sync{}));
  EXPECT_FALSE(p.executes);
  EXPECT_FALSE(p.movable);
  EXPECT_EQ(p.unit.kind, Kind::kRead);
}

TEST_F(ExtendedTest, ANamedStatementIsClassifiedOnceAndPreparedOnNewWhenFirstNeeded) {
  run(batch(Parse{.statement = "s1", .query = "select abalance from a where aid = $1"}, Sync{}),
      Backend::kOld);
  EXPECT_EQ(parses, 1);
  std::string execute = batch(Bind{.statement = "s1", .parameters = {"3"}}, Execute{}, Sync{});
  BatchPlan first = run(execute, Backend::kNew);
  EXPECT_TRUE(first.movable);
  EXPECT_EQ(first.unit.kind, Kind::kRead);
  EXPECT_EQ(first.new_prefix, batch(Close{.kind = 'S', .name = "s1"}) +
                                  parse_message("s1", "select abalance from a where aid = $1"));
  EXPECT_EQ(first.new_prefix_replies, 2);
  BatchPlan second = run(execute, Backend::kNew);
  EXPECT_EQ(second.new_prefix, "");  // new has it now
  EXPECT_EQ(parses, 1);              // and nothing was parsed again
  statements.new_lost();
  EXPECT_EQ(plan(execute).new_prefix_replies, 2);
  // For a replay log, the prefix prepares what the batch uses whatever new has.
  statements.apply(execute, plan(execute), false, true);
  EXPECT_EQ(
      statements
          .plan(
              execute,
              [&](std::string_view sql) -> const Classification& { return cache.classify(sql); },
              true)
          .new_prefix_replies,
      2);
}

TEST_F(ExtendedTest, AnUnknownStatementOrPortalKeepsTheBatchOnOldAsAWrite) {
  BatchPlan unknown_statement = plan(batch(Bind{.statement = "never"}, Execute{}, Sync{}));
  EXPECT_FALSE(unknown_statement.movable);
  EXPECT_EQ(unknown_statement.unit.kind, Kind::kUnknown);
  // A portal bound in an earlier batch (inside a transaction) lives only where it was bound.
  BatchPlan earlier_portal = plan(batch(Execute{.portal = "c1", .max_rows = 10}, Sync{}));
  EXPECT_FALSE(earlier_portal.movable);
  EXPECT_EQ(earlier_portal.unit.kind, Kind::kUnknown);
}

// asyncpg's cursor in a transaction that also writes: the portal is bound with its first fetch,
// then fetched again by Executes alone. Those run what the portal's statement runs (a read,
// not mirrored), where it was bound, until the transaction ends or the portal is closed.
TEST_F(ExtendedTest, APortalBoundEarlierInTheTransactionRunsItsStatementWhereItWasBound) {
  run(batch(Parse{.statement = "s", .query = "SELECT n FROM t ORDER BY n"},
            Bind{.portal = "c1", .statement = "s"}, Execute{.portal = "c1", .max_rows = 50},
            Sync{}),
      Backend::kOld);
  const std::string fetch = batch(Execute{.portal = "c1", .max_rows = 50}, Sync{});
  BatchPlan next = plan(fetch);
  EXPECT_EQ(next.unit.kind, Kind::kRead);
  EXPECT_FALSE(next.movable);  // the portal is on old only
  EXPECT_FALSE(next.new_can_run);
  run(batch(Close{.kind = 'P', .name = "c1"}, Sync{}), Backend::kOld);
  EXPECT_EQ(plan(fetch).unit.kind, Kind::kUnknown);
  run(batch(Bind{.portal = "c2", .statement = "s"}, Sync{}), Backend::kOld);
  EXPECT_EQ(plan(batch(Execute{.portal = "c2"}, Sync{})).unit.kind, Kind::kRead);
  statements.transaction_ended();
  EXPECT_EQ(plan(batch(Execute{.portal = "c2"}, Sync{})).unit.kind, Kind::kUnknown);
}

TEST_F(ExtendedTest, AnUnnamedStatementReusedAcrossSyncsIsGivenToTheSideThatLacksIt) {
  // asyncpg without a statement cache: Parse "" + Describe + Sync, then Bind "" + Execute.
  run(batch(Parse{.query = "select 42"}, Describe{.kind = 'S'}, Sync{}), Backend::kOld);
  std::string execute = batch(Bind{}, Execute{}, Sync{});
  BatchPlan on_new = run(execute, Backend::kNew);
  EXPECT_EQ(on_new.new_prefix, parse_message("", "select 42"));
  EXPECT_EQ(on_new.new_prefix_replies, 1);
  EXPECT_EQ(on_new.old_prefix, "");
  // Parsed on new only: old's unnamed statement is an older one, so old gets the Parse first.
  run(batch(Parse{.query = "select 43"}, Bind{}, Execute{}, Sync{}), Backend::kNew);
  BatchPlan on_old = run(execute, Backend::kOld);
  EXPECT_EQ(on_old.old_prefix, parse_message("", "select 43"));
  EXPECT_EQ(plan(execute).old_prefix, "");  // and then it has it
}

TEST_F(ExtendedTest, CloseForgetsAStatementAndAReParseWithOtherTextIsNeverMoved) {
  run(batch(Parse{.statement = "s", .query = "select 1"}, Sync{}), Backend::kOld);
  run(batch(Close{.kind = 'S', .name = "s"}, Sync{}), Backend::kOld);
  EXPECT_EQ(statements.size(), 0u);
  run(batch(Parse{.statement = "s", .query = "select 2"}, Sync{}), Backend::kOld);
  EXPECT_TRUE(plan(batch(Bind{.statement = "s"}, Execute{}, Sync{})).movable);
  // Without a Close old refuses the second Parse (42P05) unless the first failed: which text
  // old has is unknown here.
  run(batch(Parse{.statement = "s", .query = "select 3"}, Sync{}), Backend::kOld);
  EXPECT_FALSE(plan(batch(Bind{.statement = "s"}, Execute{}, Sync{})).movable);
  EXPECT_FALSE(plan(batch(Close{.kind = 'S', .name = "s"}, Sync{})).movable);
}

TEST_F(ExtendedTest, DeallocateForgetsTheStatementsItRemoves) {
  for (const char* name : {"a", "b", "c"}) {
    run(batch(Parse{.statement = name, .query = "select 1"}, Sync{}), Backend::kOld);
  }
  auto movable = [&](const char* name) {
    return plan(batch(Bind{.statement = name}, Execute{}, Sync{})).movable;
  };
  BatchPlan one =
      run(batch(Parse{.query = "deallocate a"}, Bind{}, Execute{}, Sync{}), Backend::kOld);
  EXPECT_EQ(one.unit.kind, Kind::kSession);
  EXPECT_EQ(one.unit.deallocates, std::vector<std::string>{"a"});
  statements.forget(one.unit);
  EXPECT_FALSE(movable("a"));
  EXPECT_TRUE(movable("b"));
  BatchPlan all =
      run(batch(Parse{.query = "discard all"}, Bind{}, Execute{}, Sync{}), Backend::kOld);
  EXPECT_TRUE(all.unit.forgets_prepared);
  statements.forget(all.unit);
  EXPECT_FALSE(movable("b"));
  EXPECT_FALSE(movable("c"));
}

TEST_F(ExtendedTest, FlushKeepsTheBatchOnOld) {
  std::string flush;
  protocol::encode(protocol::Flush{}, flush);
  EXPECT_FALSE(plan(batch(Parse{.query = "select 1"}, Bind{}, Execute{}) + flush).movable);
}

TEST_F(ExtendedTest, MergeAddsTablesAndKeepsTheFirstFingerprint) {
  Classification a{.kind = Kind::kRead, .tables = {"a"}, .fingerprint = 1};
  Classification b{.kind = Kind::kSession, .creates_temporary = true, .tables = {"b"}};
  Classification into{.kind = Kind::kRead};
  merge(into, a);
  merge(into, b);
  EXPECT_EQ(into.kind, Kind::kSession);
  EXPECT_TRUE(into.creates_temporary);
  EXPECT_EQ(into.tables, (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(into.fingerprint, 1u);
  // What routing and refusals read of a unit holds for a batch too.
  merge(into, {.kind = Kind::kRead, .two_phase = true, .server_bound = true});
  EXPECT_TRUE(into.two_phase);
  EXPECT_TRUE(into.server_bound);
}

TEST_F(ExtendedTest, EveryBindOfAStatementWhoseValuesMayNeedPinningIsListed) {
  // Parsed in this batch, and executed later from a named statement parsed earlier.
  const std::string parse_insert = parse_message("", "insert into t (v) values ($1)");
  BatchPlan here =
      run(parse_insert + batch(Bind{.parameters = {"1"}}, Execute{}, Sync{}), Backend::kOld);
  ASSERT_EQ(here.pinnable.size(), 1u);
  EXPECT_EQ(here.pinnable[0].message, 1u);
  EXPECT_EQ(here.pinnable[0].parse, parse_insert);
  EXPECT_EQ(here.pinnable[0].fingerprint, fingerprint("insert into t (v) values ($1)"));
  EXPECT_TRUE(here.unit.inserts);
  const std::string parse_named = parse_message("ins", "update u set at = now()");
  run(parse_named + batch(Sync{}), Backend::kOld);
  BatchPlan later =
      plan(batch(Bind{.statement = "ins"}, Execute{}, Bind{.statement = "ins"}, Execute{}, Sync{}));
  ASSERT_EQ(later.pinnable.size(), 2u);
  EXPECT_EQ(later.pinnable[0].message, 0u);
  EXPECT_EQ(later.pinnable[1].message, 2u);
  EXPECT_EQ(later.pinnable[1].parse, parse_named);
  // Neither an INSERT, a time function, nor an UPDATE or DELETE: nothing listed.
  EXPECT_TRUE(plan(batch(Parse{.query = "select v from t where id = $1"}, Bind{.parameters = {"1"}},
                         Execute{}, Sync{}))
                  .pinnable.empty());
}

// An UPDATE may be mirrored by its effect: where its portal's answers stand among the batch's.
TEST_F(ExtendedTest, ABoundWriteKnowsWhereItsPortalsAnswersStand) {
  const BatchPlan two =
      plan(batch(Parse{.query = "update t set v = $1"}, Describe{.kind = 'S'},
                 Bind{.parameters = {"1"}}, Describe{.kind = 'P'}, Execute{},
                 Bind{.parameters = {"2"}}, Describe{.kind = 'P'}, Execute{}, Sync{}));
  ASSERT_EQ(two.pinnable.size(), 2u);
  EXPECT_EQ(two.pinnable[0].execute, 0);
  EXPECT_EQ(two.pinnable[0].describes, std::vector<int>{1});
  EXPECT_TRUE(two.pinnable[0].runs_once);
  EXPECT_EQ(two.pinnable[1].execute, 1);
  EXPECT_EQ(two.pinnable[1].describes, std::vector<int>{2});
  // A row limit on a statement returning rows, or a second Execute of the portal: its keys
  // are not one Execute's answer.
  const BatchPlan limited = plan(
      batch(Parse{.query = "delete from t returning id"}, Bind{}, Execute{.max_rows = 5}, Sync{}));
  EXPECT_FALSE(limited.pinnable[0].runs_once);
  EXPECT_TRUE(limited.ignored_row_limits.empty());
  const BatchPlan twice =
      plan(batch(Parse{.query = "delete from t"}, Bind{}, Execute{}, Execute{}, Sync{}));
  EXPECT_EQ(twice.pinnable[0].execute, 0);
  EXPECT_FALSE(twice.pinnable[0].runs_once);
}

// PgJDBC's executeUpdate() executes with a row limit of 1, which PostgreSQL ignores for a
// statement returning no rows: the portal runs once, whole, and the limit can go (cutover's own
// RETURNING would otherwise be cut to one row).
TEST_F(ExtendedTest, ARowLimitOnAWriteWithoutReturningIsIgnoredAsPostgresIgnoresIt) {
  const std::string limited =
      batch(Parse{.query = "update t set v = $1 where n between 1 and 3"},
            Bind{.parameters = {"1"}}, Describe{.kind = 'P'}, Execute{.max_rows = 1}, Sync{});
  const BatchPlan planned = plan(limited);
  ASSERT_EQ(planned.pinnable.size(), 1u);
  EXPECT_TRUE(planned.pinnable[0].runs_once);
  EXPECT_EQ(planned.pinnable[0].execute, 0);
  EXPECT_EQ(planned.ignored_row_limits, std::vector<size_t>{3});
  // EXPLAIN ANALYZE of the same write returns rows: its limit stands.
  EXPECT_TRUE(plan(batch(Parse{.query = "explain analyze update t set v = 1"}, Bind{},
                         Execute{.max_rows = 1}, Sync{}))
                  .ignored_row_limits.empty());
  // A malformed Execute (no portal name, no limit) is left for old to refuse.
  const BatchPlan malformed = plan(batch(Parse{.query = "update t set v = 1"}, Bind{}) +
                                   std::string("E\0\0\0\4", 5) + batch(Sync{}));
  EXPECT_TRUE(malformed.ignored_row_limits.empty());
  EXPECT_FALSE(malformed.pinnable[0].runs_once);
  EXPECT_EQ(without_ignored_row_limits(limited, planned.ignored_row_limits),
            batch(Parse{.query = "update t set v = $1 where n between 1 and 3"},
                  Bind{.parameters = {"1"}}, Describe{.kind = 'P'}, Execute{}, Sync{}));
}

}  // namespace
}  // namespace cutover::router
