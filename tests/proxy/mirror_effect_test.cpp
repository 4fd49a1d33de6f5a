// Writes mirrored by their effect (router/row_effect.h): an UPDATE or DELETE whose rows follow
// from other data changes on new exactly the rows it changed on old, by key; one that cannot
// be mirrored so is refused before old runs it; and under sixteen clients mixing key inserts
// with such writes for a minute, both databases end identical with nothing reported.
#include <libpq-fe.h>

#include <atomic>
#include <chrono>
#include <fstream>
#include <iterator>
#include <random>
#include <stdexcept>
#include <vector>

#include "tests/proxy/mirror_fixture.h"

namespace cutover::testing {
namespace {

using namespace std::chrono_literals;

class MirrorEffectTest : public EffectTablesTest {
 protected:
  std::string divergences() const {
    std::ifstream in(proxy_->dir() / "cutover-data" / "divergences.jsonl");
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  }
};

struct Answer {
  std::string status;  // PQresStatus
  std::string tag;
  int rows = 0;
  std::string sqlstate;
  std::string message;
  std::string context;
};

Answer run(const Connection& c, const std::string& sql) {
  PGresult* r = PQexec(c.get(), sql.c_str());
  Answer a{PQresStatus(PQresultStatus(r)), PQcmdStatus(r), PQntuples(r), "", "", ""};
  if (const char* state = PQresultErrorField(r, PG_DIAG_SQLSTATE)) a.sqlstate = state;
  if (const char* message = PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY)) a.message = message;
  if (const char* context = PQresultErrorField(r, PG_DIAG_CONTEXT)) a.context = context;
  PQclear(r);
  return a;
}

// New holds a row old does not (as when a commit has reached new and not old): the subquery
// would pick it there. Mirrored by its effect, the UPDATE changes on new the row old changed.
TEST_F(MirrorEffectTest, AWriteChoosingItsRowsByOtherDataChangesTheSameRowsOnNew) {
  Connection c = connect_proxy();
  c.exec("insert into ev values (1, 10), (2, 20), (5, 50)");
  TwoClusters::new_db().query("insert into ev values (3, 30)");
  const Answer update =
      run(c, "update ev set n = 0 where id = (select max(id) from ev where id < 4)");
  EXPECT_EQ(update.status, "PGRES_COMMAND_OK");  // the keys cutover asked for do not show
  EXPECT_EQ(update.tag, "UPDATE 1");
  EXPECT_EQ(update.rows, 0);
  c.exec("begin");
  const Answer deleted = run(c, "delete from ev where n between 25 and 60");
  EXPECT_EQ(deleted.tag, "DELETE 1");  // row 5 on old; rows 3 and 5 on new, by the predicate
  c.exec("commit");
  // The client's RETURNING, and only it, comes back (cutover's keys ride after it).
  PGresult* r = PQexec(c.get(), "update ev set n = n + 1 where n < 5 returning n, id");
  EXPECT_EQ(PQresultStatus(r), PGRES_TUPLES_OK) << PQresultErrorMessage(r);
  EXPECT_EQ(PQnfields(r), 2);
  ASSERT_EQ(PQntuples(r), 1);
  EXPECT_STREQ(PQgetvalue(r, 0, 0), "1");
  EXPECT_STREQ(PQgetvalue(r, 0, 1), "2");
  EXPECT_STREQ(PQcmdStatus(r), "UPDATE 1");
  PQclear(r);
  EXPECT_EQ(old_db().query("select id, n from ev order by id"), "1\t10\n2\t1");
  EXPECT_EQ(TwoClusters::new_db().query("select id, n from ev order by id"), "1\t10\n2\t1\n3\t30");
  TwoClusters::new_db().query("delete from ev where id = 3");
  EXPECT_EQ(every_row(TwoClusters::new_db()), every_row(old_db()));
}

TEST_F(MirrorEffectTest, WhatCannotBeMirroredByItsKeysIsRefusedBeforeOldRunsIt) {
  Connection c = connect_proxy();
  c.exec("insert into ev values (1, 10), (2, 20); insert into nokey values (1)");
  const Answer no_key = run(c, "update nokey set n = 2 where n = 1");
  EXPECT_EQ(no_key.sqlstate, "0A000");
  EXPECT_NE(no_key.message.find("\"nokey\" has no primary key"), std::string::npos)
      << no_key.message;
  EXPECT_EQ(no_key.context, "");  // not cutover's DO block
  const Answer other_rows = run(c, "update ev set n = (select max(n) from ev) where id = 1");
  EXPECT_EQ(other_rows.sqlstate, "0A000");
  EXPECT_NE(other_rows.message.find("takes values from other rows"), std::string::npos);
  // RETURNING would give the keys after the update, which new's rows do not have yet.
  const Answer new_keys = run(c, "update ev set id = id + 100 where n < 15");
  EXPECT_EQ(new_keys.sqlstate, "0A000");
  EXPECT_NE(new_keys.message.find("sets its rows' key columns"), std::string::npos);
  // Named by key, the same statements are mirrored as they are.
  EXPECT_EQ(run(c, "update ev set n = n + 1 where id = 1").tag, "UPDATE 1");
  // A table old does not know gets old's own error, not cutover's.
  EXPECT_EQ(run(c, "update missing set n = 1 where n = 2").sqlstate, "42P01");
  EXPECT_EQ(old_db().query("select n from nokey"), "1");
  EXPECT_EQ(old_db().query("select id, n from ev order by id"), "1\t11\n2\t20");
  EXPECT_EQ(every_row(TwoClusters::new_db()), every_row(old_db()));
}

// The "done when": sixteen clients for a minute, key inserts next to updates and
// deletes whose rows follow from what else is committed (max(id), min(id), ranges of n), in
// autocommit and in transactions. Both databases end identical; the mismatch log has only the
// sentinel the test provokes at the end, the divergence ledger nothing.
TEST_F(MirrorEffectTest, SixteenClientsMixingKeyInsertsWithDataDependentWritesEndIdentical) {
  constexpr int kClients = 16;
  const auto until = std::chrono::steady_clock::now() + 60s;
  std::atomic<int> next_id{1};
  std::atomic<int> writes{0};
  std::atomic<int> deadlocks{0};
  Clients clients(kClients, [&](int client) {
    Connection c = connect_proxy();
    std::minstd_rand random(client);
    auto insert = [&] {
      const int id = next_id++;
      return "insert into ev values (" + std::to_string(id) + ", " + std::to_string(id % 50) +
             ", now())";
    };
    while (std::chrono::steady_clock::now() < until) {
      const std::string low = std::to_string(random() % 50);
      std::vector<std::string> statements;
      switch ((client + writes.load()) % 6) {
        case 0:
        case 1:
          statements = {insert()};
          break;
        case 2:
          statements = {"update ev set n = n + 1, at = now() where id = (select max(id) from ev)"};
          break;
        case 3:
          statements = {"delete from ev where id = (select min(id) from ev)"};
          break;
        case 4:
          statements = {"update ev set n = (n + 7) % 50 where n between " + low + " and " + low +
                        " + 2"};
          break;
        default:
          statements = {"begin", insert(), "update ev set at = now() where n = " + low, "commit"};
      }
      for (const std::string& sql : statements) {
        PGresult* r = PQexec(c.get(), sql.c_str());
        const char* state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
        const std::string sqlstate = state != nullptr ? state : "";
        const std::string failed = sql + ": " + PQresultErrorMessage(r);
        PQclear(r);
        if (!sqlstate.empty() && sqlstate != "40P01") throw std::runtime_error(failed);
        if (sqlstate == "40P01") {  // old chose a victim among range updates, as it would
          ++deadlocks;
          PQclear(PQexec(c.get(), "rollback"));
          break;
        }
      }
      ++writes;
    }
  });
  const std::vector<std::string> failures = clients.join();
  for (int client = 0; client < kClients; ++client) {
    EXPECT_EQ(failures[client], "") << "client " << client;
  }
  EXPECT_GT(writes.load(), 500);  // under the sanitizers too
  EXPECT_NE(old_db().query("select count(*) from ev"), "0");
  EXPECT_EQ(every_row(TwoClusters::new_db()), every_row(old_db()));
  // A mismatch of the test's making: every line before it is in.
  old_db().query("insert into ev values (-1, 0)");
  const std::string sentinel = "update ev set n = 1 where id = -1";
  Connection c = connect_proxy();
  c.exec(sentinel);
  const std::vector<std::string> lines = mismatches_through(*proxy_, sentinel);
  ASSERT_EQ(lines.size(), 1u) << lines.front();
  // The sentinel's mismatch is the one divergence opened.
  const std::string ledger = divergences();
  const size_t opened = ledger.find("\"op\":\"open\"");
  ASSERT_NE(opened, std::string::npos) << ledger;
  EXPECT_EQ(ledger.find("\"op\":\"open\"", opened + 1), std::string::npos) << ledger;
  EXPECT_NE(ledger.find(proxy_log_hex(sentinel)), std::string::npos) << ledger;
  old_db().query("delete from ev where id = -1");  // the sentinel's row, on old alone
  for (const char* event : {"mirror_skipped", "mirror_failed", "mirror_journaled",
                            "mirror_commit_wait_timeout", "unit_refused"}) {
    EXPECT_EQ(proxy_->log().find(std::string("\"event\":\"") + event), std::string::npos) << event;
  }
  std::printf("%d writes, %d deadlocks\n", writes.load(), deadlocks.load());
}

}  // namespace
}  // namespace cutover::testing
