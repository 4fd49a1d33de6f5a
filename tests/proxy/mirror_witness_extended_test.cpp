// Item 1 of the faithful mirror in the extended protocol: a prepared INSERT, UPDATE or DELETE
// whose Bind is executed once, whole, runs on both sides as a statement of cutover's returning a
// witness of each row it changed (a write by its effect returns them too), and the comparator
// matches them by key, Execute by Execute. The client sees its own statement's answer and row
// shape.
#include <libpq-fe.h>

#include <string>
#include <vector>

#include "tests/proxy/mirror_fixture.h"

namespace cutover::testing {
namespace {

using MirrorWitnessExtendedTest = WitnessTablesTest;

ResultPtr prepared(const Connection& c, const char* name, const std::vector<const char*>& values) {
  return {PQexecPrepared(c.get(), name, static_cast<int>(values.size()), values.data(), nullptr,
                         nullptr, 0),
          &PQclear};
}

void prepare(const Connection& c, const char* name, const char* sql) {
  ResultPtr r(PQprepare(c.get(), name, sql, 0, nullptr), &PQclear);
  ASSERT_EQ(PQresultStatus(r.get()), PGRES_COMMAND_OK) << PQresultErrorMessage(r.get());
}

// Sends `sql` in the open pipeline once per row of `values`.
void send_each(const Connection& c, const char* sql,
               const std::vector<std::vector<const char*>>& values) {
  for (const auto& row : values) {
    ASSERT_EQ(PQsendQueryParams(c.get(), sql, static_cast<int>(row.size()), nullptr, row.data(),
                                nullptr, nullptr, 0),
              1);
  }
}

TEST_F(MirrorWitnessExtendedTest, APreparedKeyedUpdateStoringOtherValuesOnNewIsReported) {
  Connection c = connect_proxy();
  c.exec("insert into ev values (1, 10), (2, 20)");
  const char* update = "update ev set at = $1 where id = $2";
  prepare(c, "stamp", update);
  ResultPtr equal = prepared(c, "stamp", {"2026-01-01 00:00+00", "2"});  // equal on both
  EXPECT_STREQ(PQcmdStatus(equal.get()), "UPDATE 1");
  alter_n_on_new();
  ResultPtr r = prepared(c, "stamp", {"2026-01-02 00:00+00", "1"});
  EXPECT_EQ(PQresultStatus(r.get()), PGRES_COMMAND_OK) << PQresultErrorMessage(r.get());
  EXPECT_STREQ(PQcmdStatus(r.get()), "UPDATE 1");  // the same answer on both sides
  EXPECT_EQ(PQnfields(r.get()), 0);                // and no witness for the client
  ResultPtr described(PQdescribePrepared(c.get(), "stamp"), &PQclear);
  EXPECT_EQ(PQnfields(described.get()), 0);  // the client's statement, as it prepared it
  const std::vector<std::string> lines = mismatches_through(*proxy_, update);
  ASSERT_EQ(lines.size(), 1u);  // the first UPDATE's witnesses were equal
  EXPECT_TRUE(has(lines[0], R"("kind":"effects")")) << lines[0];
  EXPECT_TRUE(has(lines[0], one_row_differing("ev", "(id)=(1)", "n"))) << lines[0];
  EXPECT_TRUE(has(divergences(), R"x("keys":["ev(id)=(1)"])x")) << divergences();
  EXPECT_EQ(TwoClusters::new_db().query("select n from ev where id = 1"), "1010");
}

// psycopg 3's executemany and asyncpg's send one batch of many Executes: each Execute's
// witnesses are its own, after a read's rows that hold none.
TEST_F(MirrorWitnessExtendedTest, EachExecuteOfAPipelineReturnsItsOwnWitnesses) {
  negate_inserted_id_2_on_new();
  Connection c = connect_proxy();
  c.exec("insert into ev values (9, 90)");
  ASSERT_EQ(PQenterPipelineMode(c.get()), 1);
  send_each(c, "select n from ev where id = $1", {{"9"}});
  const char* insert = "insert into ev (id, n) values ($1, $2) returning n";
  send_each(c, insert, {{"1", "10"}, {"2", "20"}, {"3", "30"}});
  const std::vector<std::string> answers = pipeline_results(c, 4);
  EXPECT_EQ(answers, (std::vector<std::string>{"SELECT 1 90", "INSERT 0 1 10", "INSERT 0 1 20",
                                               "INSERT 0 1 30"}));
  const std::vector<std::string> lines =
      mismatches_through(*proxy_, "select n from ev where id = $1");
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_TRUE(has(lines[0], R"("kind":"rows")")) << lines[0];  // the client's n differs
  EXPECT_TRUE(has(lines[0], R"x("old_rows":3,"new_rows":3,"complete":true,)x"
                            R"x("rows":[{"key":"(id)=(2)","kind":"different","columns":["n"]}])x"))
      << lines[0];
}

// A prepared write by its effect (rows chosen by a range): old returns witnesses in place of
// bare keys, and new, run on those keys, its own.
TEST_F(MirrorWitnessExtendedTest, APreparedWriteByItsEffectReturnsWitnessesOnBothSides) {
  Connection c = connect_proxy();
  c.exec("insert into ev values (1, 10), (2, 20), (3, 30)");
  alter_n_on_new();
  const char* by_range = "update ev set at = now() where n >= $1 returning id";
  prepare(c, "late", by_range);
  ResultPtr r = prepared(c, "late", {"25"});
  ASSERT_EQ(PQresultStatus(r.get()), PGRES_TUPLES_OK) << PQresultErrorMessage(r.get());
  EXPECT_EQ(PQnfields(r.get()), 1);
  ASSERT_EQ(PQntuples(r.get()), 1);
  EXPECT_STREQ(PQgetvalue(r.get(), 0, 0), "3");
  const std::vector<std::string> lines = mismatches_through(*proxy_, by_range);
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_TRUE(has(lines[0], R"("kind":"effects")")) << lines[0];
  EXPECT_TRUE(has(lines[0], R"x("rows":[{"key":"(id)=(3)","kind":"different","columns":["n"]}])x"))
      << lines[0];
  EXPECT_EQ(old_db().query("select count(*) from ev where at is not null"), "1");
  EXPECT_EQ(TwoClusters::new_db().query("select id, n from ev where at is not null"), "3\t1030");
}

// A batch writing two tables: the first's witnesses are compared; the second's are taken out of
// both answers too, and that write is compared by its answer (WritePair names one table).
TEST_F(MirrorWitnessExtendedTest, ABatchWritingTwoTablesComparesTheFirstTablesWitnesses) {
  for (PgCluster* db : {&old_db(), &TwoClusters::new_db()}) {
    db->query("drop table if exists side; create table side(id int primary key, n int)");
  }
  alter_n_on_new("side");
  Connection c = connect_proxy();
  c.exec("insert into ev values (1, 10); insert into side values (1, 10)");
  ASSERT_EQ(PQenterPipelineMode(c.get()), 1);
  const char* first = "update side set n = $1 where id = $2 returning id";
  send_each(c, first, {{"11", "1"}});
  send_each(c, "update ev set at = $1 where id = $2 returning n", {{"2026-01-01 00:00+00", "1"}});
  const std::vector<std::string> answers = pipeline_results(c, 2);
  EXPECT_EQ(answers, (std::vector<std::string>{"UPDATE 1 1", "UPDATE 1 10"}));
  const std::vector<std::string> lines = mismatches_through(*proxy_, first);
  ASSERT_EQ(lines.size(), 1u);
  // side's one row, not ev's too: the client's rows are equal, side's witness is not.
  EXPECT_TRUE(has(lines[0], R"("kind":"effects")")) << lines[0];
  EXPECT_TRUE(has(lines[0], one_row_differing("side", "(id)=(1)", "n"))) << lines[0];
  EXPECT_EQ(TwoClusters::new_db().query("select n from side"), "1011");
  EXPECT_EQ(TwoClusters::new_db().query("select at = '2026-01-01 00:00+00' from ev"), "t");
}

}  // namespace
}  // namespace cutover::testing
