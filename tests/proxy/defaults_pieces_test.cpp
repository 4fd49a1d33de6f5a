// Defaults pinned in extended-query batches that do not reach cutover whole before old must
// start them: prepared with a Flush and bound in the same batch (asyncpg), or pipelined across
// many reads (psycopg 3's executemany). Each execution gets old's own values on both sides,
// however many there are, and the client sees what PostgreSQL would answer.
#include <libpq-fe.h>

#include <chrono>
#include <optional>
#include <string>
#include <thread>

#include "protocol/frontend.h"
#include "tests/harness/test_certificates.h"
#include "tests/proxy/defaults_fixture.h"

namespace cutover::testing {
namespace {

// The result libpq reports next in pipeline mode, checked to have `status`.
void expect_result(PGconn* conn, ExecStatusType status) {
  PGresult* result = PQgetResult(conn);
  EXPECT_EQ(PQresultStatus(result), status) << PQresultErrorMessage(result);
  PQclear(result);
}

// Sends `name` prepared as `sql` with a Flush, and waits for the answer, as asyncpg does.
void prepare_with_flush(PGconn* conn, const std::string& name, const char* sql) {
  ASSERT_EQ(PQsendPrepare(conn, name.c_str(), sql, 1, nullptr), 1);
  ASSERT_EQ(PQsendFlushRequest(conn), 1);
  ASSERT_EQ(PQflush(conn), 0);
  expect_result(conn, PGRES_COMMAND_OK);  // the prepare, answered before the batch ends
  EXPECT_EQ(PQgetResult(conn), nullptr);
}

// The answers to `count` commands returning no rows, then the pipeline's Sync.
void expect_commands_then_sync(PGconn* conn, int count) {
  for (int i = 0; i < count; ++i) {
    expect_result(conn, PGRES_COMMAND_OK);
    EXPECT_EQ(PQgetResult(conn), nullptr);
  }
  expect_result(conn, PGRES_PIPELINE_SYNC);
}

// Queues one execution of `name` with `value` in the pipeline.
void send_prepared(PGconn* conn, const std::string& name, const std::string& value) {
  const char* values[] = {value.c_str()};
  ASSERT_EQ(PQsendQueryPrepared(conn, name.c_str(), 1, values, nullptr, nullptr, 0), 1);
}

TEST_F(DefaultsTest, ABatchSentInPiecesIsPinnedToo) {
  Connection c = connect_proxy();
  PGconn* conn = c.get();
  ASSERT_EQ(PQenterPipelineMode(conn), 1);
  for (int i = 0; i < 3; ++i) {
    const std::string name = "piece" + std::to_string(i);
    prepare_with_flush(conn, name, "insert into gen (v) values ($1) returning id");
    send_prepared(conn, name, "in pieces " + std::to_string(i));
    ASSERT_EQ(PQpipelineSync(conn), 1);
    expect_result(conn, PGRES_TUPLES_OK);
    EXPECT_EQ(PQgetResult(conn), nullptr);
    expect_result(conn, PGRES_PIPELINE_SYNC);
  }
  ASSERT_EQ(PQexitPipelineMode(conn), 1);
  EXPECT_EQ(old_db().query("select string_agg(id::text, ',' order by id) from gen"), "1,2,3");
  EXPECT_EQ(TwoClusters::new_db().query(kAllRows), old_db().query(kAllRows));
  EXPECT_EQ(proxy_->log().find("mirror_nondeterministic"), std::string::npos) << proxy_->log();
}

TEST_F(DefaultsTest, PreparedWithAFlushThenBoundFiftyTimesInTheBatchIsPinnedWhole) {
  // asyncpg's executemany: more executions than cutover could ask old for ahead of pieces.
  Connection c = connect_proxy();
  PGconn* conn = c.get();
  ASSERT_EQ(PQenterPipelineMode(conn), 1);
  prepare_with_flush(conn, "many", "insert into gen (v) values ($1)");
  for (int i = 0; i < 50; ++i) send_prepared(conn, "many", "row " + std::to_string(i));
  ASSERT_EQ(PQpipelineSync(conn), 1);
  expect_commands_then_sync(conn, 50);
  ASSERT_EQ(PQexitPipelineMode(conn), 1);
  EXPECT_EQ(old_db().query("select count(distinct u) || ' ' || min(id) || ' ' || max(id) from gen"),
            "50 1 50");
  EXPECT_EQ(TwoClusters::new_db().query(kAllRows), old_db().query(kAllRows));
  EXPECT_EQ(proxy_->log().find("mirror_nondeterministic"), std::string::npos) << proxy_->log();
}

TEST_F(DefaultsTest, AfterAFailedDescribeTheRestOfTheBatchIsSkippedAsPostgresSkipsIt) {
  // The statement parses, the Describe of another fails: PostgreSQL skips the Binds that
  // follow up to the Sync, so nothing is inserted, and the session goes on.
  Connection c = connect_proxy();
  PGconn* conn = c.get();
  ASSERT_EQ(PQenterPipelineMode(conn), 1);
  ASSERT_EQ(PQsendPrepare(conn, "kept", "insert into gen (v) values ($1)", 1, nullptr), 1);
  ASSERT_EQ(PQsendDescribePrepared(conn, "no_such_statement"), 1);
  ASSERT_EQ(PQsendFlushRequest(conn), 1);
  ASSERT_EQ(PQflush(conn), 0);
  expect_result(conn, PGRES_COMMAND_OK);
  EXPECT_EQ(PQgetResult(conn), nullptr);
  PGresult* failed = PQgetResult(conn);
  EXPECT_STREQ(PQresultErrorField(failed, PG_DIAG_SQLSTATE), "26000");
  PQclear(failed);
  EXPECT_EQ(PQgetResult(conn), nullptr);
  send_prepared(conn, "kept", "skipped");
  ASSERT_EQ(PQpipelineSync(conn), 1);
  expect_result(conn, PGRES_PIPELINE_ABORTED);
  EXPECT_EQ(PQgetResult(conn), nullptr);
  expect_result(conn, PGRES_PIPELINE_SYNC);
  ASSERT_EQ(PQexitPipelineMode(conn), 1);
  c.exec("insert into gen (v) values ('after')");
  EXPECT_EQ(old_db().query("select string_agg(v, ',') from gen"), "after");
  EXPECT_EQ(TwoClusters::new_db().query(kAllRows), old_db().query(kAllRows));
}

// After a failed Describe, PostgreSQL skips everything up to the client's Sync, a simple Query
// included: through cutover (which ended the Parse/Describe part on old with a Sync of its
// own) the client sees the same messages as from PostgreSQL itself, and nothing is inserted.
TEST_F(DefaultsTest, AfterAFailedDescribeEvenAQueryIsSkippedUntilTheSync) {
  auto answers_of = [](uint16_t port) {
    RawClient client(port);
    raw_login(client);
    std::string first;
    protocol::encode(
        protocol::Parse{.statement = "kept", .query = "insert into gen (v) values ($1)"}, first);
    protocol::encode(protocol::Describe{.kind = 'S', .name = "no_such_statement"}, first);
    protocol::encode(protocol::Flush{}, first);
    client.send(first);
    std::string types;
    for (std::optional<RawMessage> m; types.find('E') == std::string::npos;) {
      m = read_message(client);
      if (!m) return types + "(silence)";
      types += m->type;
    }
    std::string rest;
    protocol::encode(protocol::Query{.sql = "insert into gen (v) values ('a query')"}, rest);
    protocol::encode(protocol::Bind{.statement = "kept", .parameters = {"a bind"}}, rest);
    protocol::encode(protocol::Execute{}, rest);
    protocol::encode(protocol::Sync{}, rest);
    client.send(rest);
    for (std::optional<RawMessage> m; !types.ends_with('Z');) {
      m = read_message(client);
      if (!m) return types + "(silence)";
      types += m->type;
    }
    return types;
  };
  const std::string direct = answers_of(old_db().port());
  EXPECT_EQ(direct, "1EZ");  // ParseComplete, the Describe's error, one ReadyForQuery
  EXPECT_EQ(answers_of(proxy_->port()), direct);
  EXPECT_EQ(old_db().query("select count(*) from gen"), "0");
}

// Sends 30 executions of a prepared INSERT in one pipeline: after the third a flush and a
// pause, so that the rest comes in another read, then each on its own (one write, and over TLS
// one record, each), and the Sync. Checks the answers.
void pipeline_in_reads(PGconn* conn) {
  ASSERT_EQ(PQenterPipelineMode(conn), 1);
  ASSERT_EQ(PQsendPrepare(conn, "many", "insert into gen (v) values ($1)", 1, nullptr), 1);
  for (int i = 0; i < 30; ++i) {
    send_prepared(conn, "many", std::to_string(i));
    ASSERT_EQ(PQflush(conn), 0);
    if (i == 2) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ASSERT_EQ(PQpipelineSync(conn), 1);
  expect_result(conn, PGRES_COMMAND_OK);  // the prepare
  EXPECT_EQ(PQgetResult(conn), nullptr);
  expect_commands_then_sync(conn, 30);
  ASSERT_EQ(PQexitPipelineMode(conn), 1);
}

// psycopg 3's executemany prepares its statement in the pipeline and sends each execution as
// it goes, without a Flush: cutover waits for the rest while the client keeps sending, then
// pins the batch whole at its Sync. In pieces, the later reads' executions would find no
// values asked of old ahead. The hold is long here, so that the test's pause is well inside
// it however slow the machine.
TEST_F(DefaultsTest, APipelineArrivingInSeveralReadsIsPinnedWhole) {
  start_routing(0, "  read_your_writes_ms: 0\nlimits:\n  batch_hold_ms: 10000\n");
  pipeline_in_reads(connect_proxy().get());
  EXPECT_EQ(old_db().query("select count(distinct u) || ' ' || max(id) from gen"), "30 30");
  EXPECT_EQ(TwoClusters::new_db().query(kAllRows), old_db().query(kAllRows));
  EXPECT_EQ(proxy_->log().find("mirror_nondeterministic"), std::string::npos) << proxy_->log();
}

// The same over TLS, where records that arrived together are read from the socket at once:
// what OpenSSL holds counts as more to come, though the socket no longer shows it.
TEST_F(DefaultsTest, APipelineArrivingInSeveralTlsRecordsIsPinnedWhole) {
  const TestCertificates certs;
  start_routing(0,
                "  read_your_writes_ms: 0\nlimits:\n  batch_hold_ms: 10000\ntls: { mode: "
                "require, cert_file: " +
                    certs.server_cert().string() + ", key_file: " + certs.server_key().string() +
                    " }\n");
  Connection c = connect(proxy_->conninfo() + " sslmode=require");
  ASSERT_EQ(PQsslInUse(c.get()), 1);
  const auto started = std::chrono::steady_clock::now();
  pipeline_in_reads(c.get());
  // Well inside the hold: the batch did not wait for it to run out.
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(5));
  EXPECT_EQ(old_db().query("select count(distinct u) || ' ' || max(id) from gen"), "30 30");
  EXPECT_EQ(TwoClusters::new_db().query(kAllRows), old_db().query(kAllRows));
  EXPECT_EQ(proxy_->log().find("mirror_nondeterministic"), std::string::npos) << proxy_->log();
}

}  // namespace
}  // namespace cutover::testing
