// Rewriting INSERTs so that every value a differing default would give (serial, identity,
// uuid, now()) is named explicitly: the slots found from the parse tree and a table's columns,
// and the text after filling them, byte for byte around the edits.
#include "router/insert_defaults.h"

#include <gtest/gtest.h>

namespace cutover::router {
namespace {

// id serial, v text, at timestamptz DEFAULT now(), n int DEFAULT 0
const std::vector<TableColumn> kTable = {
    {.name = "id", .type = "integer", .default_expression = "nextval('t_id_seq'::regclass)"},
    {.name = "v", .type = "text"},
    {.name = "at", .type = "timestamp with time zone", .default_expression = "now()"},
    {.name = "n", .type = "integer", .default_expression = "0"},
};

std::vector<DefaultKind> differing(const std::vector<TableColumn>& table) {
  std::vector<DefaultKind> out;
  for (const auto& column : table) out.push_back(classify_default(column.default_expression));
  return out;
}

// Fills each slot with "<column>:<row>" so the tests see which value went where.
std::string rewrite(std::string_view sql, const std::vector<TableColumn>& table = kTable) {
  auto shapes = find_inserts(sql);
  EXPECT_TRUE(shapes.has_value()) << sql;
  if (!shapes) return "";
  std::vector<FilledSlot> filled;
  std::vector<const std::vector<TableColumn>*> tables;
  for (size_t i = 0; i < shapes->size(); ++i) {
    tables.push_back(&table);
    auto slots = default_slots(i, (*shapes)[i], table, differing(table));
    EXPECT_TRUE(slots.has_value()) << sql;
    if (!slots) return "";
    for (const auto& slot : *slots) {
      filled.push_back({slot, table[slot.column].name + ":" + std::to_string(slot.row)});
    }
  }
  return fill_defaults(sql, *shapes, tables, filled);
}

TEST(InsertDefaultsTest, DefaultsThatDifferAreClassifiedByWhatTheyCall) {
  EXPECT_TRUE(classify_default("nextval('t_id_seq'::regclass)").differs);
  EXPECT_FALSE(classify_default("nextval('t_id_seq'::regclass)").time_only);
  EXPECT_TRUE(classify_default("gen_random_uuid()").differs);
  EXPECT_TRUE(classify_default("now()").time_only);
  EXPECT_TRUE(classify_default("CURRENT_TIMESTAMP").time_only);
  EXPECT_TRUE(classify_default("(now() + '1 day'::interval)").time_only);
  EXPECT_FALSE(classify_default("(now() + (random() * '00:00:01'::interval))").time_only);
  EXPECT_FALSE(classify_default("0").differs);
  EXPECT_FALSE(classify_default("'x'::text").differs);
  EXPECT_FALSE(classify_default("").differs);
  // Where the time calls stand is kept, relative to the expression, for pinning it again.
  const std::string expression = "(now() + '1 day'::interval)";
  EXPECT_EQ(pin_time(expression, classify_default(expression).time_calls,
                     "'2026-11-27 10:00:00+00'", "'2026-11-27 10:00:01+00'"),
            "(CAST('2026-11-27 10:00:00+00' AS timestamptz) + '1 day'::interval)");
}

TEST(InsertDefaultsTest, MissingColumnsAreAppendedToTheListAndEveryRow) {
  EXPECT_EQ(rewrite("INSERT INTO t (v) VALUES ('a'), ('b') RETURNING id"),
            "INSERT INTO t (v, \"id\", \"at\") VALUES ('a', id:0, at:0), ('b', id:1, at:1) "
            "RETURNING id");
}

TEST(InsertDefaultsTest, DefaultItemsAreReplacedInPlace) {
  EXPECT_EQ(rewrite("insert into t (id, v, at, n) values (DEFAULT, 'a', default, DEFAULT)"),
            "insert into t (id, v, at, n) values (id:0, 'a', at:0, DEFAULT)");
}

TEST(InsertDefaultsTest, WithoutAColumnListOneIsWrittenForTheGivenItemsAndTheMissingOnes) {
  EXPECT_EQ(rewrite("insert into public.t as x values (default, 'a')"),
            "insert into public.t as x (\"id\", \"v\", \"at\") values (id:0, 'a', at:0)");
}

TEST(InsertDefaultsTest, DefaultValuesBecomesAValuesRow) {
  EXPECT_EQ(rewrite("INSERT INTO t DEFAULT VALUES"),
            "INSERT INTO t (\"id\", \"at\") VALUES (id:0, at:0)");
}

TEST(InsertDefaultsTest, IdentityAlwaysColumnsGetOverridingSystemValue) {
  auto table = kTable;
  table[0] = {.name = "id",
              .type = "bigint",
              .default_expression = "nextval('t_id_seq'::regclass)",
              .identity = 'a'};
  EXPECT_EQ(rewrite("INSERT INTO t (v, at) VALUES ('a', now())", table),
            "INSERT INTO t (v, at, \"id\") OVERRIDING SYSTEM VALUE VALUES ('a', now(), id:0)");
  EXPECT_EQ(rewrite("INSERT INTO t DEFAULT VALUES", table),
            "INSERT INTO t (\"id\", \"at\") OVERRIDING SYSTEM VALUE VALUES (id:0, at:0)");
  // Already there: not written twice.
  EXPECT_EQ(rewrite("INSERT INTO t (v) OVERRIDING SYSTEM VALUE VALUES ('a')", table),
            "INSERT INTO t (v, \"id\", \"at\") OVERRIDING SYSTEM VALUE VALUES ('a', id:0, at:0)");
  // OVERRIDING USER VALUE discards a given identity value: cannot be pinned.
  auto shapes = find_inserts("INSERT INTO t (id, v) OVERRIDING USER VALUE VALUES (1, 'a')");
  ASSERT_TRUE(shapes.has_value());
  EXPECT_FALSE(default_slots(0, shapes->front(), table, differing(table)).has_value());
  // A value of the client's own for it is refused by PostgreSQL (428C9): cutover must not make
  // it acceptable with an OVERRIDING SYSTEM VALUE of its own, so it fills nothing there.
  for (const char* refused :
       {"INSERT INTO t (id, v) VALUES (DEFAULT, 'a'), (5, 'b')", "INSERT INTO t VALUES (5, 'a')"}) {
    shapes = find_inserts(refused);
    ASSERT_TRUE(shapes.has_value());
    const auto slots = default_slots(0, shapes->front(), table, differing(table));
    ASSERT_TRUE(slots.has_value()) << refused;
    EXPECT_TRUE(slots->empty()) << refused;
  }
}

// Unknown columns, too many items: old refuses it with its own error, nothing is filled.
TEST(InsertDefaultsTest, WhatOldRefusesAnywayGoesUnchanged) {
  for (const char* refused : {"INSERT INTO t (nope, v) VALUES (1, 'a')",
                              "INSERT INTO t VALUES (1, 'a', now(), 4, 5, 6, 7)",
                              "INSERT INTO t (v) VALUES ('a', 'b')"}) {
    auto shapes = find_inserts(refused);
    ASSERT_TRUE(shapes.has_value()) << refused;
    const auto slots = default_slots(0, shapes->front(), kTable, differing(kTable));
    ASSERT_TRUE(slots.has_value()) << refused;
    EXPECT_TRUE(slots->empty()) << refused;
  }
}

TEST(InsertDefaultsTest, CommentsStringsAndNestedParenthesesDoNotMisleadTheScan) {
  EXPECT_EQ(rewrite("INSERT INTO t (v) /* values ( */ VALUES (')values('), ((('b'))) -- ) x\n"
                    "ON CONFLICT (v) DO UPDATE SET n = (1)"),
            "INSERT INTO t (v, \"id\", \"at\") /* values ( */ VALUES (')values(', id:0, at:0), "
            "((('b')), id:1, at:1) -- ) x\nON CONFLICT (v) DO UPDATE SET n = (1)");
}

TEST(InsertDefaultsTest, InsertsInAWithClauseAndSeveralStatementsAreEachFilled) {
  EXPECT_EQ(rewrite("WITH x AS (INSERT INTO t (v) VALUES ('a') RETURNING id) SELECT * FROM x; "
                    "INSERT INTO t (v, at) VALUES ('b', DEFAULT)"),
            "WITH x AS (INSERT INTO t (v, \"id\", \"at\") VALUES ('a', id:0, at:0) RETURNING id) "
            "SELECT * FROM x; INSERT INTO t (v, at, \"id\") VALUES ('b', at:0, id:0)");
}

TEST(InsertDefaultsTest, GeneratedColumnsAreNeverGivenAValue) {
  auto table = kTable;
  table.push_back({.name = "g", .type = "integer", .generated = true});
  table.back().default_expression = "nextval('other'::regclass)";  // would differ otherwise
  EXPECT_EQ(rewrite("INSERT INTO t (v, g) VALUES ('a', DEFAULT)", table),
            "INSERT INTO t (v, g, \"id\", \"at\") VALUES ('a', DEFAULT, id:0, at:0)");
}

TEST(InsertDefaultsTest, InsertSelectIsPinnedOnlyWhenItNamesEveryDifferingColumn) {
  auto shapes = find_inserts("INSERT INTO t (id, v, at) SELECT 1, 'a', now()");
  ASSERT_TRUE(shapes.has_value());
  EXPECT_FALSE(shapes->front().rewritable);
  auto slots = default_slots(0, shapes->front(), kTable, differing(kTable));
  ASSERT_TRUE(slots.has_value());
  EXPECT_TRUE(slots->empty());
  shapes = find_inserts("INSERT INTO t (v) SELECT 'a'");
  ASSERT_TRUE(shapes.has_value());
  EXPECT_FALSE(default_slots(0, shapes->front(), kTable, differing(kTable)).has_value());
  shapes = find_inserts("INSERT INTO t SELECT * FROM u");
  ASSERT_TRUE(shapes.has_value());
  EXPECT_FALSE(default_slots(0, shapes->front(), kTable, differing(kTable)).has_value());
}

TEST(InsertDefaultsTest, NothingToFillLeavesTheTextAsItIs) {
  EXPECT_EQ(rewrite("INSERT INTO t (id, v, at) VALUES (1, 'a', now())"),
            "INSERT INTO t (id, v, at) VALUES (1, 'a', now())");
  EXPECT_EQ(rewrite("UPDATE t SET v = 'x'"), "UPDATE t SET v = 'x'");
}

TEST(InsertDefaultsTest, TextThatDoesNotParseHasNoShapes) {
  EXPECT_FALSE(find_inserts("INSERT INTO t VALUES (").has_value());
}

TEST(InsertDefaultsTest, QuotingDoublesTheQuote) {
  EXPECT_EQ(quote_literal("it's"), "'it''s'");
  EXPECT_EQ(quote_literal("back\\slash"), "'back\\slash'");
  EXPECT_EQ(quote_identifier("We\"ird"), "\"We\"\"ird\"");
}

}  // namespace
}  // namespace cutover::router
