// Extended-protocol routing in dual_write against the real old and new clusters: parameterized
// and prepared reads run on new, writes on old; named statements are prepared on new when first
// needed there; an unnamed statement new ran is given back to old before old runs it again;
// session state set through the extended protocol reaches new; a statement new cannot prepare
// falls back to old; pipelined batches keep their order.
#include <libpq-fe.h>

#include <vector>

#include "protocol/backend.h"
#include "protocol/frontend.h"
#include "tests/proxy/routing_fixture.h"

namespace cutover::testing {
namespace {

using namespace std::string_literals;

// The first value of a result, which must be `status`; throws QueryError otherwise. Frees it.
std::string take_value(PGresult* result, ExecStatusType status = PGRES_TUPLES_OK) {
  if (PQresultStatus(result) != status) {
    const char* sqlstate = PQresultErrorField(result, PG_DIAG_SQLSTATE);
    QueryError error(sqlstate != nullptr ? sqlstate : "", PQresultErrorMessage(result));
    PQclear(result);
    throw error;
  }
  std::string value = status == PGRES_TUPLES_OK && PQntuples(result) > 0 ? PQgetvalue(result, 0, 0)
                                                                         : PQcmdStatus(result);
  PQclear(result);
  return value;
}

std::vector<const char*> pointers(const std::vector<std::string>& params) {
  std::vector<const char*> out;
  for (const auto& p : params) out.push_back(p.c_str());
  return out;
}

// Parse "" / Bind / Describe / Execute / Sync, as libpq's PQexecParams sends them.
std::string params_value(const Connection& c, const std::string& sql,
                         const std::vector<std::string>& params,
                         ExecStatusType status = PGRES_TUPLES_OK) {
  auto values = pointers(params);
  return take_value(PQexecParams(c.get(), sql.c_str(), static_cast<int>(values.size()), nullptr,
                                 values.data(), nullptr, nullptr, 0),
                    status);
}

void prepare(const Connection& c, const std::string& name, const std::string& sql) {
  take_value(PQprepare(c.get(), name.c_str(), sql.c_str(), 0, nullptr), PGRES_COMMAND_OK);
}

std::string prepared_value(const Connection& c, const std::string& name,
                           const std::vector<std::string>& params) {
  auto values = pointers(params);
  return take_value(PQexecPrepared(c.get(), name.c_str(), static_cast<int>(values.size()),
                                   values.data(), nullptr, nullptr, 0));
}

class ExtendedRoutingTest : public RoutingTest {
 protected:
  void SetUp() override { start_routing(100, "  read_your_writes_ms: 0\n"); }
  static void create_on_both(const std::string& sql) {
    TwoClusters::old_db().query(sql);
    TwoClusters::new_db().query(sql);
  }
};

TEST_F(ExtendedRoutingTest, ParameterizedReadsRunOnNewAndWritesOnBoth) {
  create_on_both("create table if not exists ext_writes(v text)");
  Connection c = connect_proxy();
  EXPECT_EQ(params_value(c, "select current_setting('port') || $1::text", {"/x"}),
            new_port() + "/x");
  EXPECT_EQ(
      params_value(c, "insert into ext_writes values ($1)", {"param-write"}, PGRES_COMMAND_OK),
      "INSERT 0 1");
  EXPECT_EQ(old_db().query("select count(*) from ext_writes where v = 'param-write'"), "1");
  // Mirrored (proxy/session/session_mirror.cpp).
  EXPECT_EQ(TwoClusters::new_db().query("select count(*) from ext_writes where v = 'param-write'"),
            "1");
}

TEST_F(ExtendedRoutingTest, NamedStatementsArePreparedOnNewWhenFirstUsedThere) {
  create_on_both("create table if not exists ext_writes(v text)");
  Connection c = connect_proxy();
  prepare(c, "which", "select current_setting('port') || $1::text");
  prepare(c, "insert_one", "insert into ext_writes values ($1) returning current_setting('port')");
  for (int i = 0; i < 3; ++i) EXPECT_EQ(prepared_value(c, "which", {"!"}), new_port() + "!");
  EXPECT_EQ(prepared_value(c, "insert_one", {"prepared-write"}), old_port());
  // Asked through cutover, so new answers: it has the read, and the write it mirrored (given
  // to it, Close + Parse, the first time the write ran).
  EXPECT_EQ(c.query("select name from pg_prepared_statements order by name"), "insert_one\nwhich");
  // DEALLOCATE reaches both.
  c.exec("deallocate insert_one");
  EXPECT_EQ(prepared_value(c, "which", {"?"}), new_port() + "?");
}

TEST_F(ExtendedRoutingTest, AnUnnamedStatementNewRanIsGivenBackToOldBeforeOldRunsIt) {
  Connection c = connect_proxy();
  prepare(c, "", "select 'stale'");  // prepares only: old's unnamed statement
  EXPECT_EQ(params_value(c, "select current_setting('port') || $1::text", {"#"}),
            new_port() + "#");  // the current unnamed statement, run on new
  c.exec("begin");              // in a write transaction, reads go to old
  EXPECT_EQ(prepared_value(c, "", {"#"}), old_port() + "#");
  EXPECT_EQ(prepared_value(c, "", {"$"}), old_port() + "$");
  c.exec("commit");
  EXPECT_EQ(prepared_value(c, "", {"%"}), new_port() + "%");
}

// The types of the messages up to ReadyForQuery, and the first DataRow's first column.
std::pair<std::string, std::string> read_answer(RawClient& client) {
  std::string types;
  std::string value;
  while (auto m = read_message(client)) {
    types += m->type;
    if (m->type == 'D' && value.empty()) {
      auto row = protocol::decode_backend('D', m->body);
      if (row) value = std::get<protocol::DataRow>(*row).columns.at(0).value_or("");
    }
    if (m->type == 'Z') break;
  }
  return {types, value};
}

TEST_F(ExtendedRoutingTest, TheClientSeesNoAnswerToWhatCutoverSentOld) {
  // The same sequence on the wire: the answer to cutover's own Parse on old must not show.
  RawClient client(proxy_->port());
  ASSERT_NE(raw_login(client).find('Z'), std::string::npos);
  auto send = [&](auto... messages) {
    std::string bytes;
    (protocol::encode(messages, bytes), ...);
    client.send(bytes);
    return read_answer(client);
  };
  using protocol::Bind, protocol::Execute, protocol::Parse, protocol::Sync;
  EXPECT_EQ(send(Parse{.query = "select 'stale'"}, Sync{}).first, "1Z");
  auto on_new = send(Parse{.query = "select current_setting('port')"}, Bind{}, Execute{}, Sync{});
  EXPECT_EQ(on_new, std::pair("12DCZ"s, new_port()));
  EXPECT_EQ(send(protocol::Query{.sql = "begin"}).first, "CZ");
  EXPECT_EQ(send(Bind{}, Execute{}, Sync{}), std::pair("2DCZ"s, old_port()));
}

TEST_F(ExtendedRoutingTest, SessionStateSetThroughTheExtendedProtocolReachesNew) {
  Connection c = connect_proxy();
  params_value(c, "set application_name to 'ext-app'", {}, PGRES_COMMAND_OK);
  EXPECT_EQ(c.query_value("select current_setting('application_name') || ':' || "
                          "current_setting('port')"),
            "ext-app:" + new_port());
}

TEST_F(ExtendedRoutingTest, AStatementNewCannotPrepareIsAnsweredByOld) {
  old_db().query(
      "create table if not exists only_on_old(v int); "
      "truncate only_on_old; insert into only_on_old values (42)");
  Connection c = connect_proxy();
  prepare(c, "only", "select v from only_on_old where v = $1");
  EXPECT_EQ(prepared_value(c, "only", {"42"}), "42");
  EXPECT_NE(proxy_->log().find("\"reason\":\"prepare 42P01\""), std::string::npos);
  EXPECT_EQ(params_value(c, "select current_setting('port') || $1::text", {""}), new_port());
}

TEST_F(ExtendedRoutingTest, PipelinedBatchesAreAnsweredInOrder) {
  create_on_both("create table if not exists ext_writes(v text)");
  Connection c = connect_proxy();
  PGconn* conn = c.get();
  ASSERT_EQ(PQenterPipelineMode(conn), 1);
  const char* marker = "pipelined";
  const char* which = "select current_setting('port') || $1::text";
  for (const char* sql : {which, "insert into ext_writes values ($1)", which}) {
    ASSERT_EQ(PQsendQueryParams(conn, sql, 1, nullptr, &marker, nullptr, nullptr, 0), 1);
    ASSERT_EQ(PQpipelineSync(conn), 1);
  }
  std::vector<std::string> answers;
  for (int batch = 0; batch < 3; ++batch) {
    PGresult* result = PQgetResult(conn);
    ASSERT_NE(result, nullptr);
    answers.push_back(PQresultStatus(result) == PGRES_TUPLES_OK ? PQgetvalue(result, 0, 0)
                                                                : PQcmdStatus(result));
    PQclear(result);
    ASSERT_EQ(PQgetResult(conn), nullptr);  // the end of this query's results
    result = PQgetResult(conn);
    EXPECT_EQ(PQresultStatus(result), PGRES_PIPELINE_SYNC);
    PQclear(result);
  }
  ASSERT_EQ(PQexitPipelineMode(conn), 1);
  // The first read went out alone, so new ran it; the last one may follow the write to old.
  EXPECT_EQ(answers[0], new_port() + marker);
  EXPECT_EQ(answers[1], "INSERT 0 1");
  EXPECT_TRUE(answers[2] == new_port() + marker || answers[2] == old_port() + marker) << answers[2];
  EXPECT_EQ(old_db().query("select count(*) from ext_writes where v = 'pipelined'"), "1");
}

}  // namespace
}  // namespace cutover::testing
