// find_row_write(), returning_effect() and on_keys(): which UPDATEs and DELETEs name their rows
// by key, the two texts of one mirrored by its effect, and the witnesses both sides return.
#include "router/row_effect.h"

#include <gtest/gtest.h>

namespace cutover::router {
namespace {

using Names = std::vector<std::string>;

TEST(RowEffectTest, KeyEqualityNamesRowsByKeyWhateverElseIsCommitted) {
  const auto by_key = find_row_write("update t set v = v + 1 where id = 5 and v > 0");
  ASSERT_TRUE(by_key);
  EXPECT_TRUE(by_key->update);
  EXPECT_EQ(by_key->fixed_columns, (Names{"id"}));
  EXPECT_TRUE(names_rows_by_key(*by_key, {"id"}));
  EXPECT_FALSE(names_rows_by_key(*by_key, {"id", "region"}));
  EXPECT_FALSE(names_rows_by_key(*by_key, {}));  // no key: never by key
  const auto parameters = find_row_write("delete from s.t where $2 = b and a = $1::int");
  ASSERT_TRUE(parameters);
  EXPECT_EQ(parameters->fixed_columns, (Names{"b", "a"}));
  EXPECT_EQ(parameters->relation, "\"s\".\"t\"");  // quoted as the parser read it
  // Another table's column, or one that may be (USING in scope), names no row of t.
  for (const char* sql : {"delete from t using u where u.id = 5 and t.uid = u.id",
                          "delete from t using u where id = 5 and t.uid = u.id",
                          "update t set v = 1 from u where u.id = 5 and t.id = u.tid"}) {
    EXPECT_FALSE(names_rows_by_key(*find_row_write(sql), {"id"})) << sql;
  }
  EXPECT_TRUE(names_rows_by_key(*find_row_write("delete from t using u where t.id = 5"), {"id"}));
  EXPECT_TRUE(names_rows_by_key(*find_row_write("update s.t x set v = 1 where x.id = 5"), {"id"}));
}

TEST(RowEffectTest, RowsChosenByOtherDataAreNotNamedByKey) {
  for (const char* sql : {"update t set v = 1 where id = (select max(id) from t)",
                          "update t set v = 1 where status = 'new' or id = 5",
                          "delete from t where id > 10", "update t set v = 1"}) {
    const auto write = find_row_write(sql);
    ASSERT_TRUE(write) << sql;
    EXPECT_FALSE(names_rows_by_key(*write, {"id"})) << sql;
    EXPECT_FALSE(write->reads_other_rows) << sql;
  }
}

TEST(RowEffectTest, ValuesFromOtherRowsAreFoundAndOtherStatementsAreNoRowWrites) {
  for (const char* sql : {"update t set v = (select max(v) from u) where id = 1",
                          "update t set v = u.v from u where u.id = t.id",
                          "with m as (select 1) update t set v = 2 where id = 1"}) {
    const auto write = find_row_write(sql);
    ASSERT_TRUE(write) << sql;
    EXPECT_TRUE(write->reads_other_rows) << sql;
  }
  EXPECT_FALSE(find_row_write("delete from t using u where u.id = t.id")->reads_other_rows);
  EXPECT_TRUE(
      find_row_write("delete from t using u where u.id = t.id returning u.v")->reads_other_rows);
  EXPECT_TRUE(find_row_write("update t set v = 1 where current of c")->current_of);
  EXPECT_TRUE(find_row_write("delete from t where id > 1 returning id")->returning);
  EXPECT_FALSE(find_row_write("insert into t values (1)"));
  EXPECT_FALSE(find_row_write("update t set v = 1; update t set v = 2"));
  EXPECT_FALSE(find_row_write("update t set"));
}

TEST(RowEffectTest, OldReturnsTheKeysAndNewRunsOnThem) {
  const std::string sql = "UPDATE t AS x SET v = v + 1 WHERE id = (SELECT max(id) FROM t) ;";
  const auto write = find_row_write(sql);
  ASSERT_TRUE(write);
  EXPECT_EQ(returning_effect(sql, *write, {"id", "Region"}, false),
            "UPDATE t AS x SET v = v + 1 WHERE id = (SELECT max(id) FROM t) RETURNING "
            "json_build_object('id', \"x\".\"id\", 'Region', \"x\".\"Region\") ;");
  const std::string returning = "delete from t where v > 1 returning *";
  EXPECT_EQ(returning_effect(returning, *find_row_write(returning), {"id"}, false),
            "delete from t where v > 1 returning *, json_build_object('id', \"t\".\"id\")");
  EXPECT_EQ(on_keys(sql, *write, {"id", "Region"}, R"([{"id":7,"Region":"eu"},{"id":9}])"),
            "UPDATE t AS x SET v = v + 1  WHERE (\"x\".\"id\", \"x\".\"Region\") IN (SELECT "
            "k.\"id\", k.\"Region\" FROM json_populate_recordset(NULL::\"t\", "
            "'[{\"id\":7,\"Region\":\"eu\"},{\"id\":9}]') AS k)  ;");
}

TEST(RowEffectTest, BothSidesReturnAWitnessOfEachRowAfterWhatTheClientAskedFor) {
  const std::string sql = "update s.t set v = 2 where id = 7 returning v";
  const auto write = find_row_write(sql);
  ASSERT_TRUE(write);
  EXPECT_EQ(write->table, "s.t");
  EXPECT_EQ(returning_effect(sql, *write, {"id"}, true),
            "update s.t set v = 2 where id = 7 returning v, json_build_object('id', \"t\".\"id\", "
            "'', \"t\".*)");
  const std::string by_range = "DELETE FROM t x WHERE n > 3;";
  EXPECT_EQ(on_keys(by_range, *find_row_write(by_range), {"id"}, "[{\"id\":1}]", true),
            "DELETE FROM \"t\" AS \"x\" WHERE (\"x\".\"id\") IN (SELECT k.\"id\" FROM "
            "json_populate_recordset(NULL::\"t\", '[{\"id\":1}]') AS k)  RETURNING "
            "json_build_object('id', \"x\".\"id\", '', \"x\".*);");
}

TEST(RowEffectTest, AShapeSeenBeforeFindsItsClausesInAnotherTextOfIt) {
  RowWrite write = *find_row_write("update t set v = 'a' where id = 1");
  const std::string again = "update t set v = 'it''s; where' where id = 12345 ;";
  locate_clauses(again, write);
  EXPECT_EQ(again.substr(write.where_begin, write.where_end - write.where_begin),
            "where id = 12345");
  EXPECT_EQ(returning_effect(again, write, {"id"}, false),
            "update t set v = 'it''s; where' where id = 12345 RETURNING json_build_object('id', "
            "\"t\".\"id\") ;");
}

TEST(RowEffectTest, AnInsertIsWitnessedOnItsTargetWhateverItsSource) {
  const std::string sql =
      "INSERT INTO s.t AS x (id) SELECT id FROM u WHERE id > 3 ON CONFLICT DO NOTHING";
  const auto write = find_insert(sql);
  ASSERT_TRUE(write);
  EXPECT_TRUE(write->insert);
  EXPECT_EQ(write->table, "s.t");
  EXPECT_EQ(returning_effect(sql, *write, {"id"}, true),
            sql + " RETURNING json_build_object('id', \"x\".\"id\", '', \"x\".*)");
  EXPECT_FALSE(find_insert("update t set v = 1"));
  EXPECT_FALSE(find_insert("insert into t values (1); insert into t values (2)"));
  EXPECT_FALSE(find_row_write(sql));
}

TEST(RowEffectTest, ADeleteOnKeysDropsWhatOnlyChoseItsRows) {
  const std::string sql = "delete from only s.t using u where u.flag and u.id = t.id";
  const auto write = find_row_write(sql);
  ASSERT_TRUE(write);
  EXPECT_EQ(on_keys(sql, *write, {"id"}, "[]"),
            "DELETE FROM ONLY \"s\".\"t\" AS \"t\" WHERE (\"t\".\"id\") IN (SELECT k.\"id\" "
            "FROM json_populate_recordset(NULL::\"s\".\"t\", '[]') AS k) ");
  const std::string no_where = "update t set v = 0";
  EXPECT_EQ(on_keys(no_where, *find_row_write(no_where), {"id"}, "[{\"id\":1}]"),
            "update t set v = 0 WHERE (\"t\".\"id\") IN (SELECT k.\"id\" FROM "
            "json_populate_recordset(NULL::\"t\", '[{\"id\":1}]') AS k) ");
}

TEST(RowEffectTest, APreparedStatementGetsItsKeysAsAParameterAndKeepsItsConditionTyped) {
  const std::string sql = "UPDATE t SET v = $1 WHERE state = $2 AND n > 3 RETURNING v";
  const auto write = find_row_write(sql);
  ASSERT_TRUE(write);
  EXPECT_FALSE(write->uses_other_tables);
  EXPECT_EQ(on_key_parameter(sql, *write, {"id"}, 3),
            "UPDATE t SET v = $1  WHERE (\"t\".\"id\") IN (SELECT k.\"id\" FROM "
            "json_populate_recordset(NULL::\"t\", CAST($3 AS json)) AS k) AND (( state = $2 AND "
            "n > 3 ) OR true) RETURNING v");
  const std::string all = "delete from t";
  EXPECT_EQ(on_key_parameter(all, *find_row_write(all), {"id"}, 1),
            "delete from t WHERE (\"t\".\"id\") IN (SELECT k.\"id\" FROM "
            "json_populate_recordset(NULL::\"t\", CAST($1 AS json)) AS k) ");
  EXPECT_TRUE(find_row_write("delete from t using u where u.id = t.id")->uses_other_tables);
  EXPECT_EQ(find_row_write("update t set (a, b) = (1, 2), c = 3 where n > 0")->set_columns,
            (std::vector<std::string>{"a", "b", "c"}));
}

}  // namespace
}  // namespace cutover::router
