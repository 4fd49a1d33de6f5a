// Writes mirrored by their effect through the extended protocol (proxy/mirror/pinner_effect.cpp):
// a prepared UPDATE or DELETE whose rows follow from other data changes on new exactly the rows
// it changed on old, and the client sees its own statement's answer, row shape and all (libpq's
// PQexecPrepared and PQexecParams send Bind, Describe portal, Execute; a pipeline sends several
// Executes in one batch). What cannot be mirrored so is refused before old runs it, as in the
// simple protocol.
#include <libpq-fe.h>

#include <string>
#include <vector>

#include "tests/proxy/mirror_fixture.h"

namespace cutover::testing {
namespace {

class MirrorEffectExtendedTest : public EffectTablesTest {
 protected:
  // Old and new as a row new alone holds (3, 30) leaves them: a write choosing its rows by
  // data would pick it there too.
  Connection with_a_row_on_new_alone() {
    Connection c = connect_proxy();
    c.exec("insert into ev values (1, 10), (2, 20), (5, 50)");
    TwoClusters::new_db().query("insert into ev values (3, 30)");
    return c;
  }
  void drop_the_row_on_new_alone() {
    EXPECT_EQ(TwoClusters::new_db().query("select n from ev where id = 3"), "30");
    TwoClusters::new_db().query("delete from ev where id = 3");
  }
};

ResultPtr params(const Connection& c, const char* sql, const std::vector<const char*>& values,
                 int result_format = 0) {
  return {PQexecParams(c.get(), sql, static_cast<int>(values.size()), nullptr, values.data(),
                       nullptr, nullptr, result_format),
          &PQclear};
}

TEST_F(MirrorEffectExtendedTest, APreparedWriteChoosingItsRowsByDataChangesTheSameRowsOnNew) {
  Connection c = with_a_row_on_new_alone();
  ResultPtr prepared(
      PQprepare(c.get(), "bump", "update ev set n = n + $1 where n < $2", 0, nullptr), &PQclear);
  ASSERT_EQ(PQresultStatus(prepared.get()), PGRES_COMMAND_OK);
  for (const char* by : {"1", "2"}) {
    const char* values[] = {by, "35"};
    ResultPtr r(PQexecPrepared(c.get(), "bump", 2, values, nullptr, nullptr, 0), &PQclear);
    EXPECT_EQ(PQresultStatus(r.get()), PGRES_COMMAND_OK) << PQresultErrorMessage(r.get());
    EXPECT_STREQ(PQcmdStatus(r.get()), "UPDATE 2");  // rows 1 and 2; on new, 3 would be too
    EXPECT_EQ(PQnfields(r.get()), 0);                // Describe: no rows, as the client's
  }
  // The statement as the client prepared it: no column of cutover's.
  ResultPtr described(PQdescribePrepared(c.get(), "bump"), &PQclear);
  EXPECT_EQ(PQnfields(described.get()), 0);
  EXPECT_EQ(PQnparams(described.get()), 2);
  ResultPtr deleted = params(c, "delete from ev where n > $1", {"40"});
  EXPECT_STREQ(PQcmdStatus(deleted.get()), "DELETE 1");  // 5 on old; 3 and 5 on new
  EXPECT_EQ(old_db().query("select id, n from ev order by id"), "1\t13\n2\t23");
  drop_the_row_on_new_alone();
}

// The client's RETURNING comes back as PostgreSQL gives it, in text and in binary; now() in
// the same statement is pinned as well.
TEST_F(MirrorEffectExtendedTest, TheClientsOwnReturningAndPinnedTimesStayAsTheyWere) {
  Connection c = with_a_row_on_new_alone();
  ResultPtr r =
      params(c, "update ev set at = now(), n = n * $1 where n < 35 returning n, id", {"2"});
  ASSERT_EQ(PQresultStatus(r.get()), PGRES_TUPLES_OK) << PQresultErrorMessage(r.get());
  ASSERT_EQ(PQnfields(r.get()), 2);
  EXPECT_STREQ(PQfname(r.get(), 1), "id");
  ASSERT_EQ(PQntuples(r.get()), 2);
  EXPECT_STREQ(PQcmdStatus(r.get()), "UPDATE 2");
  EXPECT_EQ(std::string(PQgetvalue(r.get(), 0, 0)) + "," + PQgetvalue(r.get(), 1, 0), "20,40");
  ResultPtr binary = params(c, "delete from ev where n > $1 returning id", {"45"}, 1);
  ASSERT_EQ(PQresultStatus(binary.get()), PGRES_TUPLES_OK) << PQresultErrorMessage(binary.get());
  ASSERT_EQ(PQnfields(binary.get()), 1);
  ASSERT_EQ(PQntuples(binary.get()), 1);
  ASSERT_EQ(PQgetlength(binary.get(), 0, 0), 4);  // int4, binary: 5
  EXPECT_EQ(PQgetvalue(binary.get(), 0, 0)[3], 5);
  EXPECT_EQ(old_db().query("select count(*) from ev where at is not null"), "2");
  drop_the_row_on_new_alone();
}

// A pipeline: three Executes of one prepared write in one batch, each with its own keys.
TEST_F(MirrorEffectExtendedTest, EachExecuteOfAPipelineGetsItsOwnKeys) {
  Connection c = with_a_row_on_new_alone();
  ASSERT_EQ(PQenterPipelineMode(c.get()), 1);
  ASSERT_EQ(PQsendPrepare(c.get(), "mark", "update ev set n = n + 100 where n between $1 and $2", 2,
                          nullptr),
            1);
  const std::vector<std::vector<const char*>> ranges = {{"5", "15"}, {"15", "35"}, {"0", "0"}};
  for (const auto& range : ranges) {
    ASSERT_EQ(PQsendQueryPrepared(c.get(), "mark", 2, range.data(), nullptr, nullptr, 0), 1);
  }
  const std::vector<std::string> answers = pipeline_results(c, 1 + ranges.size());
  EXPECT_EQ(answers, (std::vector<std::string>{"", "UPDATE 1", "UPDATE 1", "UPDATE 0"}));
  EXPECT_EQ(old_db().query("select id, n from ev order by id"), "1\t110\n2\t120\n5\t50");
  drop_the_row_on_new_alone();
}

// A batch sent in pieces (a Flush after the Parse, as asyncpg's first execution of a statement
// and psycopg 3's pipelines do): old runs each piece as it comes, and new the whole batch at
// its Sync, each Bind given the keys its Execute returned. Nothing is left unpinned.
TEST_F(MirrorEffectExtendedTest, ABatchSentInPiecesGetsEachExecutesKeysAtItsSync) {
  Connection c = with_a_row_on_new_alone();
  ASSERT_EQ(PQenterPipelineMode(c.get()), 1);
  ASSERT_EQ(PQsendPrepare(c.get(), "cut", "delete from ev where n between $1 and $2 returning n", 2,
                          nullptr),
            1);
  ASSERT_EQ(PQsendFlushRequest(c.get()), 1);
  ASSERT_EQ(PQflush(c.get()), 0);
  ResultPtr prepared(PQgetResult(c.get()), &PQclear);  // the Flush: old answered the Parse
  ASSERT_EQ(PQresultStatus(prepared.get()), PGRES_COMMAND_OK);
  EXPECT_EQ(ResultPtr(PQgetResult(c.get()), &PQclear), nullptr);
  const std::vector<std::vector<const char*>> ranges = {{"5", "15"}, {"15", "60"}};
  for (const auto& range : ranges) {
    ASSERT_EQ(PQsendQueryPrepared(c.get(), "cut", 2, range.data(), nullptr, nullptr, 0), 1);
  }
  // The client's n only, not cutover's keys.
  const std::vector<std::string> answers = pipeline_results(c, ranges.size());
  EXPECT_EQ(answers, (std::vector<std::string>{"DELETE 1 10", "DELETE 2 20 50"}));
  EXPECT_EQ(old_db().query("select count(*) from ev"), "0");
  drop_the_row_on_new_alone();
  EXPECT_EQ(proxy_->log().find("mirror_nondeterministic"), std::string::npos) << proxy_->log();
}

TEST_F(MirrorEffectExtendedTest, WhatCannotBeMirroredByItsKeysIsRefusedBeforeOldRunsIt) {
  Connection c = connect_proxy();
  c.exec("insert into ev values (1, 10), (2, 20); insert into nokey values (1)");
  ResultPtr no_key = params(c, "update nokey set n = $1 where n = 1", {"2"});
  EXPECT_STREQ(PQresultErrorField(no_key.get(), PG_DIAG_SQLSTATE), "0A000");
  EXPECT_NE(std::string(PQresultErrorMessage(no_key.get())).find("\"nokey\" has no primary key"),
            std::string::npos);
  ResultPtr other_rows =
      params(c, "update ev set n = (select max(n) from ev) where id = $1", {"1"});
  EXPECT_STREQ(PQresultErrorField(other_rows.get(), PG_DIAG_SQLSTATE), "0A000");
  ResultPtr using_other = params(c, "delete from ev using nokey where ev.n = nokey.n + $1", {"0"});
  EXPECT_STREQ(PQresultErrorField(using_other.get(), PG_DIAG_SQLSTATE), "0A000");
  // Named by key, it is mirrored as it is.
  ResultPtr by_key = params(c, "update ev set n = n + $1 where id = 1", {"5"});
  EXPECT_STREQ(PQcmdStatus(by_key.get()), "UPDATE 1");
  EXPECT_EQ(old_db().query("select n from nokey"), "1");
  EXPECT_EQ(old_db().query("select id, n from ev order by id"), "1\t15\n2\t20");
}

}  // namespace
}  // namespace cutover::testing
