// What a client sees of cutover's limits while it mirrors, against the real clusters: a unit
// cutover cannot mirror is refused before old runs it (0A000, with a hint), the transaction
// fails as PostgreSQL's own error would fail it, and both databases stay identical; questions
// about the session's own server are answered by the source of truth at any ramp.
#include <libpq-fe.h>
#include <libpq/libpq-fs.h>

#include <string>

#include "tests/proxy/routing_fixture.h"

namespace cutover::testing {
namespace {

class WhileMirroringTest : public MirroringTest {
 protected:
  void SetUp() override {
    for (PgCluster* db : {&old_db(), &TwoClusters::new_db()}) {
      db->query("drop table if exists limited; create table limited(id int primary key, v text)");
    }
    start_routing(100, "  read_your_writes_ms: 0\n");
  }
  void on_both(const std::string& sql) {
    for (PgCluster* db : {&old_db(), &TwoClusters::new_db()}) db->query(sql);
  }
  // One statement through the extended protocol (PQexecParams): its first value, or
  // "error SQLSTATE".
  static std::string extended(Connection& c, const char* sql) {
    PGresult* result = PQexecParams(c.get(), sql, 0, nullptr, nullptr, nullptr, nullptr, 0);
    const ExecStatusType status = PQresultStatus(result);
    const char* sqlstate = PQresultErrorField(result, PG_DIAG_SQLSTATE);
    std::string out = status == PGRES_FATAL_ERROR
                          ? "error " + std::string(sqlstate != nullptr ? sqlstate : "none: ") +
                                (sqlstate != nullptr ? "" : PQresultErrorMessage(result))
                      : PQntuples(result) > 0 ? PQgetvalue(result, 0, 0)
                                              : PQcmdStatus(result);
    PQclear(result);
    return out;
  }
  static bool contains(const std::string& text, const std::string& part) {
    return text.find(part) != std::string::npos;
  }
};

TEST_F(WhileMirroringTest, TwoPhaseCommitIsRefusedBeforeOldRunsItAndTheTransactionFails) {
  Connection c = connect_proxy();
  c.exec("begin");
  c.exec("insert into limited values (1, 'prepared?')");
  const std::string refused = error_of(c, "prepare transaction 'x'");
  EXPECT_TRUE(contains(refused, "0A000: ")) << refused;
  EXPECT_TRUE(contains(refused, "two-phase commit")) << refused;
  // As after any error of the server's: the transaction is aborted until it ends.
  EXPECT_TRUE(contains(error_of(c, "select 1"), "25P02")) << error_of(c, "select 1");
  c.exec("rollback");
  EXPECT_EQ(c.query_value("select count(*) from limited"), "0");
  for (PgCluster* db : {&old_db(), &TwoClusters::new_db()}) {
    EXPECT_EQ(db->query("select count(*) from pg_prepared_xacts"), "0");
  }
  EXPECT_EQ(every_row(old_db()), every_row(TwoClusters::new_db()));
}

TEST_F(WhileMirroringTest, TheRefusalCarriesAHintOnHowToWriteItInstead) {
  Connection c = connect_proxy();
  PGresult* result = PQexec(c.get(), "copy limited from stdin; copy limited from stdin");
  ASSERT_EQ(PQresultStatus(result), PGRES_FATAL_ERROR);
  EXPECT_STREQ(PQresultErrorField(result, PG_DIAG_SQLSTATE), "0A000");
  EXPECT_TRUE(contains(PQresultErrorField(result, PG_DIAG_MESSAGE_PRIMARY),
                       "more than one COPY FROM STDIN"));
  EXPECT_STREQ(PQresultErrorField(result, PG_DIAG_MESSAGE_HINT),
               "Send each COPY ... FROM STDIN as a query of its own.");
  PQclear(result);
  // No hang, and the session goes on: each COPY on its own is mirrored.
  EXPECT_EQ(c.copy_in("copy limited from stdin", "1\tone\n2\ttwo\n"), "COPY 2");
  EXPECT_EQ(c.query_value("select count(*) from limited"), "2");
  EXPECT_EQ(every_row(old_db()), every_row(TwoClusters::new_db()));
  EXPECT_TRUE(contains(proxy_->log(), "\"event\":\"unit_refused\""));
}

// Writes whose stored values each server would compute for itself are refused before old runs
// them, with the statement's problem named; what cutover can pin runs on both.
TEST_F(WhileMirroringTest, WritesOfValuesEachServerComputesAreRefusedBeforeOldRunsThem) {
  Connection c = connect_proxy();
  c.exec("insert into limited values (1, 'one'), (2, 'two')");
  for (const char* sql :
       {"update limited set v = md5(random()::text)",
        "insert into limited select g, gen_random_uuid()::text from generate_series(3, 5) g",
        "delete from limited where random() < 0.5",
        "create table copied as select id, clock_timestamp() as at from limited",
        "alter table limited add column at timestamptz default now()"}) {
    const std::string refused = error_of(c, sql);
    EXPECT_EQ(refused.substr(0, 7), "0A000: ") << sql << ": " << refused;
    EXPECT_TRUE(contains(refused, "ERROR:  cutover: ")) << refused;
  }
  EXPECT_EQ(old_db().query("select id, v from limited order by id"), "1\tone\n2\ttwo");
  EXPECT_EQ(old_db().query("select count(*) from pg_tables where tablename = 'copied'"), "0");
  // The safe way the hint describes: the column first, then values cutover pins.
  c.exec("alter table limited add column at timestamptz");
  c.exec("update limited set at = now()");
  c.exec("create table copied as select id, now() as at from limited");  // pinned too
  EXPECT_EQ(old_db().query("select count(distinct at) from limited"), "1");
  EXPECT_EQ(old_db().query("select count(distinct at) from copied"), "1");
  EXPECT_EQ(every_row(old_db()), every_row(TwoClusters::new_db()));
  const std::string log = proxy_->log();
  EXPECT_TRUE(contains(log, "\"reason\":\"unsafe_ddl\"")) << log;
  EXPECT_TRUE(contains(log, "\"reason\":\"unsafe_write\"")) << log;
}

// The same refusals through the extended protocol (JDBC's XA sends PREPARE TRANSACTION so).
TEST_F(WhileMirroringTest, TheExtendedProtocolIsRefusedTheSame) {
  Connection c = connect_proxy();
  EXPECT_EQ(extended(c, "begin"), "BEGIN");
  EXPECT_EQ(extended(c, "insert into limited values (1, 'one')"), "INSERT 0 1");
  EXPECT_EQ(extended(c, "prepare transaction 'x'"), "error 0A000");
  EXPECT_EQ(extended(c, "rollback"), "ROLLBACK");
  EXPECT_EQ(extended(c, "alter table limited add column at timestamptz default now()"),
            "error 0A000");
  EXPECT_EQ(extended(c, "alter table limited add column at timestamptz"), "ALTER TABLE");
  EXPECT_EQ(extended(c, "insert into limited values (2, 'two')"), "INSERT 0 1");
  // Its data could not be kept for new as a simple Query's is.
  EXPECT_EQ(extended(c, "copy limited from stdin"), "error 0A000");
  for (PgCluster* db : {&old_db(), &TwoClusters::new_db()}) {
    EXPECT_EQ(db->query("select count(*) from pg_prepared_xacts"), "0");
  }
  EXPECT_EQ(old_db().query("select id, v from limited"), "2\ttwo");
  EXPECT_EQ(every_row(old_db()), every_row(TwoClusters::new_db()));
}

// libpq's large-object calls go through the fast path, whose effect cutover cannot see: refused
// before old runs them; the SQL functions are mirrored like any statement.
TEST_F(WhileMirroringTest, FastPathCallsAreRefusedAndTheSqlFunctionsMirrored) {
  Connection c = connect_proxy();
  c.exec("begin");
  EXPECT_EQ(lo_creat(c.get(), INV_READ | INV_WRITE), InvalidOid);
  EXPECT_TRUE(contains(PQerrorMessage(c.get()), "fast-path function call"))
      << PQerrorMessage(c.get());
  EXPECT_TRUE(contains(error_of(c, "select 1"), "25P02"));  // the transaction failed, as on old
  c.exec("rollback");
  c.exec("select lo_from_bytea(4242, 'large'::bytea)");
  c.exec("select lo_put(4242, 5, ' object'::bytea)");
  // Each server would pick its own OID: refused before old runs it.
  EXPECT_TRUE(contains(error_of(c, "select lo_creat(-1)"), "0A000"));
  EXPECT_TRUE(contains(error_of(c, "select lo_from_bytea(0, 'x'::bytea)"), "0A000"));
  for (PgCluster* db : {&old_db(), &TwoClusters::new_db()}) {
    EXPECT_EQ(db->query("select convert_from(lo_get(4242), 'UTF8')"), "large object");
    EXPECT_EQ(db->query("select count(*) from pg_largeobject_metadata"), "1");
  }
  EXPECT_TRUE(contains(proxy_->log(), "\"reason\":\"fast_path\""));
}

// A COPY cannot carry pinned values: one whose column list leaves out columns with defaults
// that differ per server is refused before old runs it; one naming them runs on both.
TEST_F(WhileMirroringTest, ACopyLeavingDifferingDefaultsToEachServerIsRefused) {
  on_both(
      "drop table if exists copied; create table copied(id bigserial primary key, "
      "v text, at timestamptz default now(), n int default 7)");
  Connection c = connect_proxy();
  EXPECT_EQ(c.copy_in("copy copied(v) from stdin", "one\ntwo\n"), "error 0A000");
  EXPECT_EQ(c.copy_in("copy copied(id, v, at) from stdin",
                      "1\tone\t2026-12-06 10:00:00+00\n2\ttwo\t2026-12-06 10:00:01+00\n"),
            "COPY 2");
  EXPECT_EQ(c.copy_in("copy copied from stdin", "3\tthree\t2026-12-06 10:00:02+00\t8\n"), "COPY 1");
  EXPECT_EQ(old_db().query("select count(*) from copied"), "3");
  EXPECT_EQ(every_row(old_db()), every_row(TwoClusters::new_db()));
  EXPECT_TRUE(contains(proxy_->log(), "defaults of copied (id, at)")) << proxy_->log();
}

// cutover wraps autocommit writes and DDL in a transaction of its own, but never what
// PostgreSQL refuses inside one: these run as the client sent them, on both.
TEST_F(WhileMirroringTest, StatementsThatRunOutsideTransactionsAreNotWrapped) {
  Connection c = connect_proxy();
  c.exec("insert into limited values (1, 'one')");
  for (const char* sql : {"create index concurrently limited_v on limited (v)",
                          "reindex (concurrently) index limited_v", "vacuum limited",
                          "drop index concurrently limited_v",
                          "create index concurrently limited_v2 on limited (v)"}) {
    EXPECT_EQ(error_of(c, sql), "no error") << sql;
  }
  for (PgCluster* db : {&old_db(), &TwoClusters::new_db()}) {
    EXPECT_EQ(db->query("select indexname from pg_indexes where tablename = 'limited' "
                        "and indexname like 'limited_v%'"),
              "limited_v2");
  }
  EXPECT_EQ(every_row(old_db()), every_row(TwoClusters::new_db()));
}

// psql and psycopg 3 match a notification's sender against pg_backend_pid(): at ramp 100 the
// pid must still be old's, where the session's NOTIFY runs.
TEST_F(WhileMirroringTest, TheSessionsOwnServerAnswersQuestionsAboutItAtAnyRamp) {
  Connection c = connect_proxy();
  EXPECT_EQ(c.query_value(kWhichServer), std::to_string(TwoClusters::new_db().port()));  // ramp
  c.exec("listen limits");
  c.exec("notify limits");
  PQconsumeInput(c.get());
  PGnotify* notification = PQnotifies(c.get());
  ASSERT_NE(notification, nullptr);
  const int sender = notification->be_pid;
  PQfreemem(notification);
  EXPECT_EQ(c.query_value("select pg_backend_pid()"), std::to_string(sender));
  EXPECT_EQ(extended(c, "select pg_backend_pid()"), std::to_string(sender));  // psycopg 3's way
  EXPECT_EQ(c.query_value("select count(*) from pg_stat_activity where pid = pg_backend_pid()"),
            "1");
  EXPECT_EQ(c.query_value("select setting from pg_settings where name = 'port'"),
            std::to_string(TwoClusters::new_db().port()));  // not about the server: ramp
}

}  // namespace
}  // namespace cutover::testing
