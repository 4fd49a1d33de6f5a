// Item 1 of the faithful mirror: every INSERT, UPDATE and DELETE of a Query returns, on both
// sides, a witness of each row it changed (its key and the whole row), and the comparator
// matches them by key. A write that changed other rows on new, or stored other values there,
// is a mismatch naming the table, the key and the columns, and an open divergence with that
// key, even when both answers are the same ("UPDATE 1"). The witnesses never reach the client.
#include <libpq-fe.h>

#include "tests/proxy/mirror_fixture.h"

namespace cutover::testing {
namespace {

using MirrorWitnessTest = WitnessTablesTest;

TEST_F(MirrorWitnessTest, AKeyedUpdateStoringOtherValuesOnNewIsReportedWithItsKeyAndColumns) {
  Connection c = connect_proxy();
  c.exec("insert into ev values (1, 10), (2, 20)");
  alter_n_on_new();
  c.exec("delete from ev where id = 2");  // equal on both: no mismatch
  const std::string update = "update ev set at = '2026-01-01 00:00+00' where id = 1";
  PGresult* r = PQexec(c.get(), update.c_str());
  EXPECT_EQ(PQresultStatus(r), PGRES_COMMAND_OK) << PQresultErrorMessage(r);
  EXPECT_STREQ(PQcmdStatus(r), "UPDATE 1");  // the same answer on both sides
  EXPECT_EQ(PQnfields(r), 0);                // and no witness for the client
  PQclear(r);
  const std::vector<std::string> lines = mismatches_through(*proxy_, update);
  ASSERT_EQ(lines.size(), 1u);  // the DELETE's witnesses were equal
  EXPECT_TRUE(has(lines[0], R"("kind":"effects")")) << lines[0];
  EXPECT_TRUE(has(lines[0], one_row_differing("ev", "(id)=(1)", "n"))) << lines[0];
  EXPECT_TRUE(has(divergences(), R"x("keys":["ev(id)=(1)"])x")) << divergences();
  EXPECT_EQ(old_db().query("select n from ev"), "10");
  EXPECT_EQ(TwoClusters::new_db().query("select n from ev"), "1010");
}

TEST_F(MirrorWitnessTest, AnInsertStoringOtherValuesOnNewIsReportedWithItsKey) {
  negate_inserted_id_2_on_new();
  Connection c = connect_proxy();
  PGresult* r = PQexec(c.get(), "insert into ev values (1, 10), (2, 20), (3, 30) returning n");
  ASSERT_EQ(PQresultStatus(r), PGRES_TUPLES_OK) << PQresultErrorMessage(r);
  EXPECT_STREQ(PQcmdStatus(r), "INSERT 0 3");
  EXPECT_EQ(PQnfields(r), 1);  // the client's column alone
  ASSERT_EQ(PQntuples(r), 3);
  EXPECT_STREQ(PQgetvalue(r, 1, 0), "20");
  PQclear(r);
  const std::string plain = "insert into ev (id, n) values (4, 40)";  // equal on both
  c.exec(plain);
  old_db().query("insert into ev values (5, 50)");  // a last mismatch, of the answers
  const std::string barrier = "delete from ev where id = 5";
  c.exec(barrier);
  const std::vector<std::string> lines = mismatches_through(*proxy_, barrier);
  ASSERT_EQ(lines.size(), 2u) << lines.back();
  EXPECT_TRUE(has(lines[0], R"("kind":"rows")")) << lines[0];  // the client's n differs
  EXPECT_TRUE(has(lines[0], R"x("old_rows":3,"new_rows":3,"complete":true,)x"
                            R"x("rows":[{"key":"(id)=(2)","kind":"different","columns":["n"]}])x"))
      << lines[0];
  EXPECT_TRUE(has(lines[1], R"("kind":"tags")")) << lines[1];
}

TEST_F(MirrorWitnessTest, TheClientsReturningIsAnsweredAndTheWitnessTakenFromBothSides) {
  Connection c = connect_proxy();
  c.exec("insert into ev values (1, 10), (2, 20), (3, 30)");
  alter_n_on_new();
  PGresult* r = PQexec(c.get(), "update ev set at = now() where id = 2 returning id, n");
  ASSERT_EQ(PQresultStatus(r), PGRES_TUPLES_OK) << PQresultErrorMessage(r);
  EXPECT_EQ(PQnfields(r), 2);
  ASSERT_EQ(PQntuples(r), 1);
  EXPECT_STREQ(PQgetvalue(r, 0, 1), "20");
  PQclear(r);
  // By its effect (rows chosen by a range): new runs on old's keys, and returns witnesses too.
  const std::string by_range = "update ev set at = now() where n >= 30 returning id";
  r = PQexec(c.get(), by_range.c_str());
  ASSERT_EQ(PQresultStatus(r), PGRES_TUPLES_OK) << PQresultErrorMessage(r);
  EXPECT_EQ(PQnfields(r), 1);
  ASSERT_EQ(PQntuples(r), 1);
  EXPECT_STREQ(PQgetvalue(r, 0, 0), "3");
  PQclear(r);
  const std::vector<std::string> lines = mismatches_through(*proxy_, by_range);
  ASSERT_EQ(lines.size(), 2u);
  // The client's rows differ (n is 1020 on new): a rows mismatch, and the effects say where.
  EXPECT_TRUE(has(lines[0], R"("kind":"rows")")) << lines[0];
  EXPECT_TRUE(has(lines[0], R"x("key":"(id)=(2)","kind":"different","columns":["n"])x"))
      << lines[0];
  // Only the witness differs: the client's RETURNING id is the same on both.
  EXPECT_TRUE(has(lines[1], R"("kind":"effects")")) << lines[1];
  EXPECT_TRUE(has(lines[1], R"x("key":"(id)=(3)","kind":"different","columns":["n"])x"))
      << lines[1];
}

TEST_F(MirrorWitnessTest, ADeleteByItsEffectThatFindsNoRowOnNewNamesTheMissingKey) {
  Connection c = connect_proxy();
  c.exec("insert into ev values (1, 10), (2, 200), (3, 300)");
  TwoClusters::new_db().query("delete from ev where id = 3");  // lost on new
  const std::string by_range = "delete from ev where n > 100";
  c.exec(by_range);
  const std::vector<std::string> lines = mismatches_through(*proxy_, by_range);
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_TRUE(has(lines[0], R"("kind":"tags")")) << lines[0];
  EXPECT_TRUE(has(lines[0],
                  R"x("old_rows":2,"new_rows":1,"complete":true,)x"
                  R"x("rows":[{"key":"(id)=(3)","kind":"missing_on_new","columns":[]}])x"))
      << lines[0];
  EXPECT_TRUE(has(divergences(), R"x("keys":["ev(id)=(3)"])x")) << divergences();
  EXPECT_EQ(every_row(TwoClusters::new_db()), every_row(old_db()));  // both lack 2 and 3 now
}

TEST_F(MirrorWitnessTest, AWriteOfMoreRowsThanAreKeptIsComparedByTheSumOfItsWitnesses) {
  for (PgCluster* db : {&old_db(), &TwoClusters::new_db()}) {
    db->query("insert into ev select i, i from generate_series(1, 1500) i");
  }
  TwoClusters::new_db().query("update ev set n = -1 where id = 1400");
  Connection c = connect_proxy();
  const std::string bulk = "update ev set at = '2026-01-01 00:00+00' where n >= 0";
  PGresult* r = PQexec(c.get(), bulk.c_str());
  EXPECT_STREQ(PQcmdStatus(r), "UPDATE 1500");
  PQclear(r);
  const std::vector<std::string> lines = mismatches_through(*proxy_, bulk);
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_TRUE(has(lines[0], R"x("old_rows":1500,"new_rows":1500,"complete":false,"rows":[])x"))
      << lines[0];
}

class MirrorWitnessParallelTest : public MirrorWitnessTest {
 protected:
  std::string config() const override {
    return MirrorWitnessTest::config() + "  mirror: { ordering: parallel }\n";
  }
};

// Parallel ordering pipelines a transaction's writes to new, answering the client from old:
// their witnesses are compared when new's answers are read, before the COMMIT.
TEST_F(MirrorWitnessParallelTest, WritesPipelinedInATransactionAreWitnessedToo) {
  Connection c = connect_proxy();
  c.exec("insert into ev values (1, 10), (2, 20)");
  alter_n_on_new();
  c.exec("begin");
  const std::string update = "update ev set at = '2026-01-01 00:00+00' where id = 1";
  PGresult* r = PQexec(c.get(), update.c_str());
  EXPECT_STREQ(PQcmdStatus(r), "UPDATE 1");
  EXPECT_EQ(PQnfields(r), 0);  // no witness for the client
  PQclear(r);
  c.exec("delete from ev where id = 2");  // equal on both
  c.exec("commit");
  const std::vector<std::string> lines = mismatches_through(*proxy_, update);
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_TRUE(has(lines[0], one_row_differing("ev", "(id)=(1)", "n"))) << lines[0];
  EXPECT_EQ(TwoClusters::new_db().query("select id, n from ev"), "1\t1010");
  EXPECT_EQ(old_db().query("select id, n from ev"), "1\t10");
}

class MirrorAnswersOnlyTest : public MirrorWitnessTest {
 protected:
  std::string config() const override {
    return MirrorWitnessTest::config() + "  mirror: { compare: answers }\n";
  }
};

// The comparison switched off (for a benchmark against it): the same answers pass unseen.
TEST_F(MirrorAnswersOnlyTest, OnlyTheAnswersAreCompared) {
  Connection c = connect_proxy();
  c.exec("insert into ev values (1, 10)");
  alter_n_on_new();
  c.exec("update ev set at = now() where id = 1");
  old_db().query("insert into ev values (2, 20)");  // a last mismatch, of the answers
  const std::string barrier = "delete from ev where id = 2";
  c.exec(barrier);
  const std::vector<std::string> lines = mismatches_through(*proxy_, barrier);
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_FALSE(has(lines[0], "effects")) << lines[0];
}

}  // namespace
}  // namespace cutover::testing
