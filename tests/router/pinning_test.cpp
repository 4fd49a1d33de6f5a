// Finding and pinning what gives each server its own value: time functions are replaced by
// constants of their own type, byte for byte around them; what cannot be pinned is named.
#include "router/pinning.h"

#include <gtest/gtest.h>

#include "router/classify.h"

namespace cutover::router {
namespace {

constexpr char kTx[] = "'2026-11-27 10:00:00.000001+00'";
constexpr char kSt[] = "'2026-11-27 10:00:05.000002+00'";

std::string pin(std::string_view sql) {
  auto found = find_nondeterminism(sql);
  EXPECT_TRUE(found.has_value()) << sql;
  if (!found) return "";
  EXPECT_TRUE(found->unpinnable.empty()) << sql;
  return pin_time(sql, found->time_calls, kTx, kSt);
}

TEST(PinningTest, TimeFunctionsBecomeConstantsOfTheirType) {
  EXPECT_EQ(pin("insert into t values (now(), 1)"),
            "insert into t values (CAST('2026-11-27 10:00:00.000001+00' AS timestamptz), 1)");
  EXPECT_EQ(pin("update t set a = current_timestamp(3), b = CURRENT_DATE where c < LOCALTIMESTAMP"),
            "update t set a = CAST(CAST('2026-11-27 10:00:00.000001+00' AS timestamptz) AS "
            "timestamptz(3)), b = CAST(CAST('2026-11-27 10:00:00.000001+00' AS timestamptz) AS "
            "date) where c < CAST(CAST('2026-11-27 10:00:00.000001+00' AS timestamptz) AS "
            "timestamp)");
  EXPECT_EQ(pin("insert into t values (pg_catalog.now ( ), statement_timestamp(), localtime)"),
            "insert into t values (CAST('2026-11-27 10:00:00.000001+00' AS timestamptz), "
            "CAST('2026-11-27 10:00:05.000002+00' AS timestamptz), "
            "CAST(CAST('2026-11-27 10:00:00.000001+00' AS timestamptz) AS time))");
}

TEST(PinningTest, LiteralsCommentsAndOtherStatementsAreLeftAlone) {
  EXPECT_EQ(pin("insert into t values ('now()', now()) -- now()"),
            "insert into t values ('now()', CAST('2026-11-27 10:00:00.000001+00' AS "
            "timestamptz)) -- now()");
  EXPECT_EQ(pin("insert into t values (1); update t set at = now()"),
            "insert into t values (1); update t set at = CAST('2026-11-27 10:00:00.000001+00' AS "
            "timestamptz)");
  EXPECT_EQ(pin("update t set who = current_user"), "update t set who = current_user");
  EXPECT_EQ(pin("insert into t select myschema.now()"), "insert into t select myschema.now()");
}

TEST(PinningTest, DefinitionsKeepTheirTimeFunctions) {
  // A DEFAULT or a view must go on calling now() each time it is used.
  EXPECT_EQ(pin("create table t (at timestamptz default now())"),
            "create table t (at timestamptz default now())");
  EXPECT_EQ(pin("create view v as select now()"), "create view v as select now()");
  EXPECT_EQ(pin("create materialized view m as select now()"),
            "create materialized view m as select now()");
  EXPECT_EQ(pin("alter table t alter at set default current_timestamp"),
            "alter table t alter at set default current_timestamp");
  // Data made now is pinned, also next to a definition in the same Query.
  EXPECT_EQ(pin("create table t2 as select now(); create view w as select now()"),
            "create table t2 as select CAST('2026-11-27 10:00:00.000001+00' AS timestamptz); "
            "create view w as select now()");
}

TEST(PinningTest, WhatCannotBePinnedIsNamedOnce) {
  auto found = find_nondeterminism(
      "insert into t values (random(), gen_random_uuid(), clock_timestamp(), random(), "
      "nextval('s'), now())");
  ASSERT_TRUE(found.has_value());
  EXPECT_EQ(found->unpinnable,
            (std::vector<std::string>{"random", "gen_random_uuid", "clock_timestamp", "nextval"}));
  EXPECT_EQ(found->unsafe, found->unpinnable);  // an INSERT stores them
  EXPECT_EQ(found->time_calls.size(), 1u);
  EXPECT_FALSE(find_nondeterminism("insert into").has_value());
}

TEST(PinningTest, OnlyWhatAStatementStoresIsUnsafe) {
  const std::vector<std::string> random{"random"};
  for (const char* sql :
       {"update t set v = md5(random()::text)", "delete from t where random() < 0.5",
        "create table c as select random() as r", "select random() into c2",
        "with w as (insert into t values (1) returning id) select id, random() from w",
        "merge into t using s on t.id = s.id when matched then update set v = random()"}) {
    auto found = find_nondeterminism(sql);
    ASSERT_TRUE(found.has_value()) << sql;
    EXPECT_EQ(found->unsafe, random) << sql;
  }
  // A plain SELECT stores nothing: sequences advance alike on both sides.
  auto read = find_nondeterminism("select nextval('s'), random(); insert into t values (1)");
  ASSERT_TRUE(read.has_value());
  EXPECT_EQ(read->unpinnable, (std::vector<std::string>{"nextval", "random"}));
  EXPECT_TRUE(read->unsafe.empty());
}

// A large object whose OID each server assigns itself is stored even by a plain SELECT; one
// given its OID is the same on both.
TEST(PinningTest, LargeObjectsWithOidsEachServerAssignsAreUnsafe) {
  for (const auto& [sql, name] : std::vector<std::pair<std::string, std::string>>{
           {"select lo_creat(-1)", "lo_creat"},
           {"select lo_create(0)", "lo_create"},
           {"select pg_catalog.lo_from_bytea(0, 'x'::bytea)", "lo_from_bytea"},
           {"select lo_import('/tmp/f')", "lo_import"}}) {
    auto found = find_nondeterminism(sql);
    ASSERT_TRUE(found.has_value()) << sql;
    EXPECT_EQ(found->unsafe, std::vector<std::string>{name}) << sql;
    EXPECT_TRUE(Classifier().classify(sql).nondeterministic) << sql;
  }
  for (const char* sql : {"select lo_create(4242)", "select lo_from_bytea(4242, 'x'::bytea)"}) {
    auto found = find_nondeterminism(sql);
    ASSERT_TRUE(found.has_value()) << sql;
    EXPECT_TRUE(found->unsafe.empty()) << sql;
    EXPECT_TRUE(found->unpinnable.empty()) << sql;
  }
}

TEST(PinningTest, TheClassifierFlagsWhatPinningMustLookAt) {
  Classifier classifier;
  EXPECT_TRUE(classifier.classify("insert into t values (now())").nondeterministic);
  EXPECT_TRUE(classifier.classify("update t set d = current_date").nondeterministic);
  EXPECT_TRUE(classifier.classify("insert into t values (random())").nondeterministic);
  EXPECT_FALSE(classifier.classify("insert into t values (1, 'now()')").nondeterministic);
}

TEST(PinningTest, InstantsAreUtcLiteralsWithMicroseconds) {
  EXPECT_EQ(timestamp_literal(0), "1970-01-01 00:00:00.000000+00");
  EXPECT_EQ(timestamp_literal(1'795'000'000'123'456), "2026-11-18 11:06:40.123456+00");
}

}  // namespace
}  // namespace cutover::router
