// What the journal reports rather than replays: a commit new may or may not have applied
// (settled by asking new, or reported for repair with its table or the keys of its rows).
#include <libpq-fe.h>

#include <fstream>
#include <iterator>
#include <string>

#include "tests/proxy/journal_fixture.h"

namespace cutover::testing {
namespace {

using namespace std::chrono_literals;

// new answers the write but not its COMMIT within mirror.timeout_ms (a deferred trigger sleeps
// at commit): the commit may or may not have applied there. cutover had asked new for the
// transaction's id, so replay asks new what became of it (committed, once the sleep ends) and
// neither runs it again nor reports it. The table has no key: a second run would show.
TEST_F(JournalReplayTest, ACommitWhoseAnswerWasLostIsSettledByAskingNewNotRunTwice) {
  for (PgCluster* db : {&old_db(), new_cluster_.get()}) {
    db->query("drop table if exists slow_commit; create table slow_commit(id int)");
  }
  new_cluster_->query(
      "create or replace function sleep_at_commit() returns trigger language plpgsql as "
      "$$ begin perform pg_sleep(1); return null; end $$;"
      "create constraint trigger slow after insert on slow_commit deferrable initially deferred "
      "for each row execute function sleep_at_commit()");
  start("  mirror: { timeout_ms: 300 }\n");
  Connection c = connect_proxy();
  c.exec("insert into slow_commit values (1)");  // the client sees old's success
  EXPECT_NE(proxy_->log().find("\"outcome\":\"may_have_applied\""), std::string::npos);
  ASSERT_TRUE(wait_for_live()) << proxy_->log();
  EXPECT_EQ(new_cluster_->query("select count(*) from slow_commit"), "1");
  EXPECT_TRUE(mismatch_lines("journal_may_have_applied").empty());
  EXPECT_TRUE(mismatch_lines("journal_refused").empty());
}

// DDL is wrapped in cutover's transaction like any autocommit write: new's event trigger makes
// it outlast mirror.timeout_ms, so new's copy never commits by itself; the transaction is
// journaled and replayed (waiting longer on each try), never left in doubt, and the writes
// after it reach new too.
TEST_F(JournalReplayTest, DdlNewTakesLongerOverIsJournaledAndReplayedNotLeftInDoubt) {
  new_cluster_->query(
      "create or replace function sleep_after_ddl() returns event_trigger language plpgsql as "
      "$$ begin perform pg_sleep(1); end $$;"
      "create event trigger slow_ddl on ddl_command_end execute function sleep_after_ddl()");
  old_db().query("drop table if exists made_slowly");
  new_cluster_->query("drop table if exists made_slowly");
  start("  mirror: { timeout_ms: 300 }\n");
  Connection c = connect_proxy();
  c.exec("create table made_slowly(id int)");
  c.exec("insert into made_slowly values (1)");
  ASSERT_TRUE(wait_for_live()) << proxy_->log();
  new_cluster_->query("drop event trigger slow_ddl");
  EXPECT_EQ(new_cluster_->query("select id from made_slowly"), "1");
  EXPECT_TRUE(mismatch_lines("journal_may_have_applied").empty());
  EXPECT_TRUE(mismatch_lines("journal_refused").empty());
  EXPECT_NE(proxy_->log().find("\"event\":\"journal_replay_interrupted\""), std::string::npos);
  EXPECT_EQ(every_row(*new_cluster_), every_row(old_db()));
}

// A write that ends its transaction and whose answer new does not give within
// mirror.timeout_ms, before cutover could learn the transaction's id (a batch sent in pieces, a
// Flush after its Bind, is not wrapped): reported for repair with the key of the row it names, read
// from the record's Parse and Bind and new's catalog.
TEST_F(JournalReplayTest, AnUncertainWriteIsReportedWithTheKeysOfItsRows) {
  for (PgCluster* db : {&old_db(), new_cluster_.get()}) {
    db->query(
        "drop table if exists keyed; create table keyed(id int, region text, v text, "
        "primary key (region, id)); insert into keyed values (7, 'eu', 'a')");
  }
  new_cluster_->query(
      "create or replace function sleep_before_update() returns trigger language plpgsql as "
      "$$ begin perform pg_sleep(1); return new; end $$;"
      "create trigger slow before update on keyed for each row "
      "execute function sleep_before_update()");
  start("  mirror: { timeout_ms: 300 }\n");
  Connection c = connect_proxy();
  PGconn* conn = c.get();
  ASSERT_EQ(PQenterPipelineMode(conn), 1);
  ASSERT_EQ(PQsendPrepare(conn, "touch", "update keyed set v = $1 where id = $2 and region = $3", 3,
                          nullptr),
            1);
  ASSERT_EQ(PQsendFlushRequest(conn), 1);
  ASSERT_EQ(PQflush(conn), 0);
  ResultPtr prepared(PQgetResult(conn), &PQclear);
  ASSERT_EQ(PQresultStatus(prepared.get()), PGRES_COMMAND_OK) << PQerrorMessage(conn);
  EXPECT_EQ(PQgetResult(conn), nullptr);
  const char* values[] = {"b", "7", "eu"};
  ASSERT_EQ(PQsendQueryPrepared(conn, "touch", 3, values, nullptr, nullptr, 0), 1);
  ASSERT_EQ(PQsendFlushRequest(conn), 1);
  ASSERT_EQ(PQflush(conn), 0);
  ResultPtr updated(PQgetResult(conn), &PQclear);
  EXPECT_EQ(PQresultStatus(updated.get()), PGRES_COMMAND_OK) << PQerrorMessage(conn);
  EXPECT_EQ(PQgetResult(conn), nullptr);
  ASSERT_EQ(PQpipelineSync(conn), 1);
  ResultPtr synced(PQgetResult(conn), &PQclear);
  EXPECT_EQ(PQresultStatus(synced.get()), PGRES_PIPELINE_SYNC);
  ASSERT_EQ(PQexitPipelineMode(conn), 1);
  ASSERT_TRUE(wait_until([&] { return !mismatch_lines("journal_may_have_applied").empty(); }, 10s))
      << proxy_->log();
  const auto reported = mismatch_lines("journal_may_have_applied");
  ASSERT_EQ(reported.size(), 1u);
  EXPECT_NE(reported[0].find("\"tables\":[\"keyed\"],\"keys\":[\"keyed(region, id)=('eu', '7')\"]"),
            std::string::npos)
      << reported[0];
  // ... and it is an open divergence, with its table and key, until verification closes it.
  std::ifstream ledger(data_ / "divergences.jsonl");
  const std::string divergences((std::istreambuf_iterator<char>(ledger)),
                                std::istreambuf_iterator<char>());
  EXPECT_NE(divergences.find("\"kind\":\"journal_may_have_applied\",\"table\":\"keyed\","
                             "\"keys\":[\"keyed(region, id)=('eu', '7')\"]"),
            std::string::npos)
      << divergences;
  new_cluster_->query("drop trigger slow on keyed");
  ASSERT_TRUE(wait_for_live()) << proxy_->log();
}

}  // namespace
}  // namespace cutover::testing
