// Mirroring in dual_write against the real old and new clusters: writes reach both, the
// client sees old's answers only, transactions end the same way on both, what old refuses
// never reaches new, and conflicting writes from many clients apply in the same order.
#include <algorithm>
#include <atomic>
#include <fstream>
#include <thread>
#include <vector>

#include "tests/proxy/mirror_fixture.h"
#include "verify/journal.h"

namespace cutover::testing {
namespace {

INSTANTIATE_TEST_SUITE_P(Mirror, BothOrderingsTest, ::testing::Values("strict", "parallel"));

TEST_P(BothOrderingsTest, AnAutocommitWriteReachesBothAndTheClientSeesOldsAnswer) {
  Connection c = connect_proxy();
  PGresult* result = PQexec(c.get(), "insert into mirrored values (1, 'a') returning id + 41");
  ASSERT_EQ(PQresultStatus(result), PGRES_TUPLES_OK) << PQresultErrorMessage(result);
  EXPECT_STREQ(PQcmdStatus(result), "INSERT 0 1");
  EXPECT_STREQ(PQgetvalue(result, 0, 0), "42");
  PQclear(result);
  EXPECT_EQ(PQtransactionStatus(c.get()), PQTRANS_IDLE);  // cutover's BEGIN does not show
  EXPECT_EQ(rows(old_db()), "1\ta");
  EXPECT_EQ(rows(TwoClusters::new_db()), "1\ta");
}

TEST_P(BothOrderingsTest, TransactionsEndTheSameWayOnBoth) {
  Connection c = connect_proxy();
  c.exec("begin");
  c.exec("insert into mirrored values (1, 'kept')");
  c.exec("savepoint s");
  c.exec("insert into mirrored values (2, 'undone')");
  c.exec("rollback to savepoint s");
  c.exec("commit");
  c.exec("begin");
  c.exec("insert into mirrored values (3, 'rolled back')");
  c.exec("rollback");
  // A failed statement: old's COMMIT answers ROLLBACK, and new rolls back too.
  c.exec("begin");
  c.exec("insert into mirrored values (4, 'lost with the failure')");
  EXPECT_THROW(c.exec("insert into mirrored values (1, 'duplicate')"), QueryError);
  c.exec("commit");
  EXPECT_EQ(rows(old_db()), "1\tkept");
  EXPECT_EQ(rows(TwoClusters::new_db()), "1\tkept");
  EXPECT_EQ(PQtransactionStatus(c.get()), PQTRANS_IDLE);
}

TEST_P(BothOrderingsTest, AWriteOldRefusesNeverReachesNew) {
  differs_on_purpose_ = true;  // a row put on old alone
  old_db().query("insert into mirrored values (1, 'only on old')");
  Connection c = connect_proxy();
  try {
    c.exec("insert into mirrored values (1, 'dup')");
    ADD_FAILURE() << "duplicate key accepted";
  } catch (const QueryError& e) {
    EXPECT_EQ(e.sqlstate(), "23505");
  }
  EXPECT_EQ(rows(TwoClusters::new_db()), "");  // new would have taken it
  c.exec("insert into mirrored values (2, 'next')");
  EXPECT_EQ(rows(TwoClusters::new_db()), "2\tnext");
}

// A statement old refuses inside a transaction is never kept on new, even in parallel
// ordering (new may have run it): the client goes on after ROLLBACK TO SAVEPOINT and commits,
// and new ends with exactly old's rows (in parallel ordering through the journal).
TEST_P(BothOrderingsTest, AStatementOldRefusesInATransactionIsNotKeptOnNew) {
  differs_on_purpose_ = true;  // a row put on old alone
  old_db().query("insert into mirrored values (1, 'only on old')");
  Connection c = connect_proxy();
  c.exec("begin");
  c.exec("insert into mirrored values (2, 'before')");
  c.exec("savepoint s");
  EXPECT_THROW(c.exec("insert into mirrored values (1, 'refused by old')"), QueryError);
  c.exec("rollback to savepoint s");
  c.exec("insert into mirrored values (3, 'after')");
  c.exec("commit");
  EXPECT_EQ(rows(old_db()), "1\tonly on old\n2\tbefore\n3\tafter");
  ASSERT_TRUE(wait_until([] { return rows(TwoClusters::new_db()) == "2\tbefore\n3\tafter"; },
                         std::chrono::seconds(10)))
      << rows(TwoClusters::new_db()) << "\n"
      << proxy_->log();
}

// Parallel ordering: inside a transaction the client is answered by old while new still runs
// the write (here: blocked behind a lock on new); the COMMIT waits for new, so old commits
// only once new has executed the transaction, as in strict ordering.
TEST_F(MirrorTest, ParallelOrderingAnswersAWriteBeforeNewRunsItAndCommitsAfter) {
  old_db().query("insert into mirrored values (1, 'x')");
  TwoClusters::new_db().query("insert into mirrored values (1, 'x')");
  start_routing(0, config() + "  mirror: { ordering: parallel }\n");
  Connection locker = TwoClusters::new_db().connect();
  locker.exec("begin");
  locker.exec("update mirrored set v = 'locked on new' where id = 1");
  Connection c = connect_proxy();
  c.exec("begin");
  c.exec("update mirrored set v = 'y' where id = 1");  // answered: new's lock wait is not ours
  std::atomic<bool> committed = false;
  std::thread commit([&] {
    try {
      c.exec("commit");
    } catch (const std::exception& e) {
      ADD_FAILURE() << e.what();
    }
    committed = true;
  });
  const std::string waiting_on_new =
      "select count(*) from pg_stat_activity where wait_event_type = 'Lock' and "
      "query like 'update mirrored%'";
  EXPECT_TRUE(wait_until([&] { return TwoClusters::new_db().query(waiting_on_new) == "1"; },
                         std::chrono::seconds(10)));
  EXPECT_FALSE(committed.load());
  EXPECT_EQ(old_db().query("select v from mirrored"), "x");  // old's COMMIT waits for new
  locker.exec("rollback");
  commit.join();
  EXPECT_EQ(rows(old_db()), "1\ty");
  EXPECT_EQ(rows(TwoClusters::new_db()), "1\ty");
}

TEST_F(MirrorTest, ADifferentResultOnNewIsReportedWithTheFingerprint) {
  differs_on_purpose_ = true;                              // new made to differ, to be reported
  old_db().query("insert into mirrored values (1, 'x')");  // new lacks the row
  Connection c = connect_proxy();
  const std::string update = "update mirrored set v = 'y' where id = 1";
  c.exec(update);
  EXPECT_EQ(old_db().query("select v from mirrored"), "y");
  auto lines = mismatches_through(*proxy_, update);
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_NE(lines[0].find("\"kind\":\"tags\""), std::string::npos) << lines[0];
  EXPECT_NE(lines[0].find("\"old\":{\"tags\":[\"UPDATE 1\"]"), std::string::npos) << lines[0];
  EXPECT_NE(lines[0].find("\"new\":{\"tags\":[\"UPDATE 0\"]"), std::string::npos) << lines[0];
  EXPECT_NE(proxy_->log().find("\"event\":\"mirror_mismatch\""), std::string::npos);
}

TEST_F(MirrorTest, ATriggerOnNewThatAltersAColumnIsReportedWithExactlyThatFingerprint) {
  differs_on_purpose_ = true;  // new made to differ, to be reported
  TwoClusters::new_db().query(
      "create or replace function alter_v() returns trigger language plpgsql as "
      "$$ begin new.v := new.v || ' (altered)'; return new; end $$; "
      "create trigger alter_v before update on mirrored for each row execute function alter_v()");
  Connection c = connect_proxy();
  c.exec("insert into mirrored values (1, 'a'), (2, 'b') returning *");  // no trigger: equal
  const std::string altered = "update mirrored set v = 'x' where id = 1 returning *";
  c.exec(altered);                                          // same tag on both, different row
  c.exec("delete from mirrored where id = 2 returning *");  // equal again
  // A last, different mismatch: once it is in, every pair before it has been compared.
  old_db().query("insert into mirrored values (3, 'only on old')");
  const std::string barrier = "delete from mirrored where id = 3";
  c.exec(barrier);
  auto lines = mismatches_through(*proxy_, barrier);
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_NE(lines[0].find(proxy_log_hex(altered)), std::string::npos) << lines[0];
  EXPECT_NE(lines[0].find("\"kind\":\"rows\""), std::string::npos) << lines[0];
  EXPECT_NE(lines[0].find("\"rows\":1"), std::string::npos) << lines[0];
  EXPECT_EQ(TwoClusters::new_db().query("select v from mirrored"), "x (altered)");
}

TEST_P(BothOrderingsTest, ExtendedProtocolWritesAreMirroredWithTheirStatements) {
  Connection c = connect_proxy();
  const char* first[] = {"1", "unnamed"};
  PGresult* r = PQexecParams(c.get(), "insert into mirrored values ($1, $2)", 2, nullptr, first,
                             nullptr, nullptr, 0);
  EXPECT_EQ(PQresultStatus(r), PGRES_COMMAND_OK) << PQresultErrorMessage(r);
  PQclear(r);
  r = PQprepare(c.get(), "ins", "insert into mirrored values ($1, $2)", 2, nullptr);
  EXPECT_EQ(PQresultStatus(r), PGRES_COMMAND_OK) << PQresultErrorMessage(r);
  PQclear(r);
  c.exec("begin");
  for (const char* id : {"2", "3"}) {
    const char* values[] = {id, "named"};
    r = PQexecPrepared(c.get(), "ins", 2, values, nullptr, nullptr, 0);
    EXPECT_EQ(PQresultStatus(r), PGRES_COMMAND_OK) << PQresultErrorMessage(r);
    EXPECT_STREQ(PQcmdStatus(r), "INSERT 0 1");
    PQclear(r);
  }
  c.exec("commit");
  EXPECT_EQ(PQtransactionStatus(c.get()), PQTRANS_IDLE);
  EXPECT_EQ(rows(old_db()), "1\tunnamed\n2\tnamed\n3\tnamed");
  EXPECT_EQ(rows(TwoClusters::new_db()), rows(old_db()));
}

TEST_P(BothOrderingsTest, TimeFunctionsArePinnedSoBothStoreTheSameValues) {
  for (PgCluster* db : {&old_db(), &TwoClusters::new_db()}) {
    db->query("drop table if exists timed; create table timed(id int, at timestamptz, d date)");
  }
  Connection c = connect_proxy();
  c.exec("insert into timed values (1, now(), current_date)");
  c.exec("begin");
  c.exec("insert into timed values (2, current_timestamp, current_date)");
  c.exec("insert into timed values (3, now(), current_date)");
  c.exec("commit");
  const std::string all = "select id, at, d from timed order by id";
  std::string on_old = old_db().query(all);
  EXPECT_EQ(TwoClusters::new_db().query(all), on_old);
  // now() stays one instant within a transaction, as PostgreSQL's own does.
  EXPECT_EQ(old_db().query("select count(distinct at) from timed where id in (2, 3)"), "1");
  // A definition keeps its function: the DEFAULT must go on calling now() on both.
  c.exec(
      "drop table if exists timed_default; "
      "create table timed_default(id int, at timestamptz default now())");
  const std::string default_of =
      "select pg_get_expr(adbin, adrelid) from pg_attrdef where adrelid = "
      "'timed_default'::regclass";
  EXPECT_EQ(old_db().query(default_of), "now()");
  EXPECT_EQ(TwoClusters::new_db().query(default_of), "now()");
  // What cannot be pinned is refused before old runs it, in a transaction too (parallel
  // ordering's path), which then fails as on any error of old's.
  const std::string unsafe = "insert into timed values (4, now() + random() * interval '1 s')";
  const std::string refused = error_of(c, unsafe);
  EXPECT_EQ(refused.substr(0, 7), "0A000: ") << refused;
  EXPECT_NE(refused.find("(random())"), std::string::npos) << refused;
  c.exec("begin");
  c.exec("insert into timed values (5, now(), current_date)");
  EXPECT_EQ(error_of(c, unsafe).substr(0, 7), "0A000: ");
  EXPECT_EQ(error_of(c, "commit"), "no error");  // answered ROLLBACK, as PostgreSQL does
  EXPECT_EQ(old_db().query("select count(*) from timed where id >= 4"), "0");
  EXPECT_EQ(every_row(TwoClusters::new_db()), every_row(old_db()));
}

// new lacks the table: each write fails there, so each transaction old commits is journaled
// whole; replay runs them on new, which refuses them again, so each is reported for repair in
// the mismatch log, once per transaction (not per statement), and then mirroring is live again.
TEST_P(BothOrderingsTest, WritesNewRefusesAreJournaledPerTransactionAndReportedOnReplay) {
  differs_on_purpose_ = true;  // new refuses them, to be reported
  old_db().query("drop table if exists journaled; create table journaled(v int)");
  TwoClusters::new_db().query("drop table if exists journaled");
  start_routing(0, config());
  Connection c = connect_proxy();
  c.exec("insert into journaled values (1)");  // autocommit: acknowledged after the journal
  c.exec("begin");
  c.exec("insert into journaled values (2)");
  c.exec("insert into journaled values (3)");
  c.exec("commit");
  c.exec("begin");
  c.exec("insert into journaled values (4)");
  c.exec("rollback");  // old did not commit it: nothing to journal
  EXPECT_EQ(old_db().query("select string_agg(v::text, ',' order by v) from journaled"), "1,2,3");
  const auto mismatch_log = proxy_->dir() / "cutover-data" / "mismatches.jsonl";
  auto refused = [&] {
    std::vector<std::string> lines;
    std::ifstream in(mismatch_log);
    for (std::string line; std::getline(in, line);) {
      if (line.find("\"kind\":\"journal_refused\"") != std::string::npos) lines.push_back(line);
    }
    return lines;
  };
  ASSERT_TRUE(wait_until([&] { return refused().size() >= 2; }, std::chrono::seconds(10)))
      << proxy_->log();
  const auto lines = refused();
  ASSERT_EQ(lines.size(), 2u);
  for (const auto& line : lines) {
    EXPECT_NE(line.find("\"tables\":[\"journaled\"]"), std::string::npos) << line;
    EXPECT_NE(line.find("\"detail\":\"42P01: "), std::string::npos) << line;
    EXPECT_NE(line.find("\"database\":\"postgres\",\"user\":\"postgres\""), std::string::npos);
  }
  // In commit order (a reservation the transaction's BEGIN gave back leaves a gap).
  EXPECT_NE(lines[0].find("\"sequence\":1,"), std::string::npos) << lines[0];
  EXPECT_EQ(lines[1].find("\"sequence\":1,"), std::string::npos) << lines[1];
  EXPECT_NE(proxy_->log().find("\"event\":\"mirror_journaled\""), std::string::npos);
  ASSERT_TRUE(wait_until(
      [&] { return proxy_->log().find("\"event\":\"mirror_live\"") != std::string::npos; },
      std::chrono::seconds(10)));
}

// 16 clients overwrite the same 4 rows with their own values, half of them in autocommit and
// half in two-statement transactions. Were each write sent to both at once, the last writer
// of a row could differ between old and new; in either ordering both end the same.
TEST_P(BothOrderingsTest, ConflictingWritesFromSixteenClientsLeaveBothIdentical) {
  Connection setup = connect_proxy();
  setup.exec("insert into mirrored select g, 'start' from generate_series(1, 4) g");
  constexpr int kClients = 16;
  constexpr int kRounds = 40;
  std::vector<std::thread> clients;
  std::vector<std::string> failures(kClients);
  for (int client = 0; client < kClients; ++client) {
    clients.emplace_back([&, client] {
      try {
        Connection c = connect_proxy();
        for (int i = 0; i < kRounds; ++i) {
          std::string set = "update mirrored set v = 'c" + std::to_string(client) + "-" +
                            std::to_string(i) + "' where id = ";
          int first = 1 + (client + i) % 4;
          if (client % 2 == 0) {
            c.exec(set + std::to_string(first));
          } else {
            // Rows in ascending order, so the clients cannot deadlock among themselves.
            int second = 1 + (client + i + 1) % 4;
            c.exec("begin");
            c.exec(set + std::to_string(std::min(first, second)));
            c.exec(set + std::to_string(std::max(first, second)));
            c.exec("commit");
          }
        }
      } catch (const std::exception& e) {
        failures[client] = e.what();
      }
    });
  }
  for (auto& t : clients) t.join();
  for (int client = 0; client < kClients; ++client) {
    EXPECT_EQ(failures[client], "") << "client " << client;
  }
  std::string on_old = rows(old_db());
  EXPECT_NE(on_old.find("\tc"), std::string::npos) << on_old;  // the clients' values landed
  EXPECT_EQ(rows(TwoClusters::new_db()), on_old);
}

}  // namespace
}  // namespace cutover::testing
