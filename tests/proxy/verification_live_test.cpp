// cutover's own verification while 16 clients write through it: every pass reads each table
// in a pair of snapshots taken while commits are held, so however the writes interleave, a
// pass over equal databases finds nothing; a change made behind cutover's back is found by
// key and column, opens a divergence, and a pass after the repair closes it.
#include <boost/json.hpp>
#include <thread>

#include "tests/proxy/admin_fixture.h"

namespace cutover::testing {
namespace {

using namespace std::chrono_literals;
namespace json = boost::json;

constexpr char kDatabase[] = "verify_live";
constexpr int kClients = 16;
constexpr int kTransactionsPerClient = 150;

class VerificationLiveTest : public AdminFixture {
 protected:
  void SetUp() override {
    AdminFixture::SetUp();
    for (PgCluster* db : {&old_db(), &TwoClusters::new_db()}) {
      db->query(std::string("drop database if exists ") + kDatabase + " with (force)");
      db->query(std::string("create database ") + kDatabase);
      db->query(
          "create table accounts(id int primary key, balance bigint not null);"
          "insert into accounts select g, 0 from generate_series(1, 500) g;"
          "create table history(id bigserial primary key, account int, delta int,"
          "                     at timestamptz default now(), note text)",
          kDatabase);
    }
    start_admin(0, std::string("verify: { user: postgres, database: ") + kDatabase +
                       ", divergence_log: " + (dir_ / "divergences.jsonl").string() +
                       ", checksum: { range_rows: 200, max_load_percent: 100 } }\n");
  }
  void TearDown() override {
    AdminFixture::TearDown();
    for (PgCluster* db : {&old_db(), &TwoClusters::new_db()}) {
      db->query(std::string("drop database if exists ") + kDatabase + " with (force)");
    }
  }

  // Starts a pass and waits for its report.
  json::object verify_now() {
    const HttpReply started = post("/verify", "");
    EXPECT_EQ(started.status, 202) << started.body;
    return report_of(json::parse(started.body).at("pass").to_number<uint64_t>());
  }
  // Waits for pass `pass` to end; its report.
  json::object report_of(uint64_t pass) {
    json::object report;
    EXPECT_TRUE(wait_until(
        [&] {
          const HttpReply got = get("/verify");
          if (got.status != 200) return false;
          report = json::parse(got.body).as_object();
          return report.at("pass").to_number<uint64_t>() == pass && !report.at("running").as_bool();
        },
        60s));
    return report;
  }
};

// One client's writes: transfers between accounts with a history row each (a serial key and
// now() that cutover pins), and single-statement updates outside a transaction.
void write_through(const std::string& conninfo, int client) {
  Connection c = connect(conninfo);
  for (int i = 0; i < kTransactionsPerClient; ++i) {
    const int from = 1 + (client * 31 + i * 7) % 500;
    const int to = 1 + (client * 17 + i * 13) % 500;
    if (i % 5 == 4) {
      c.exec("update accounts set balance = balance + 1 where id = " + std::to_string(to));
      continue;
    }
    c.exec("begin");
    c.exec("update accounts set balance = balance - 10 where id = " + std::to_string(from));
    c.exec("update accounts set balance = balance + 10 where id = " + std::to_string(to));
    c.exec("insert into history(account, delta, note) values (" + std::to_string(to) +
           ", 10, 'client " + std::to_string(client) + "')");
    c.exec("commit");
  }
}

TEST_F(VerificationLiveTest, PassesUnderSixteenWritersFindNothingThenFindWhatChangedBehindIt) {
  EXPECT_EQ(get("/verify").status, 404);                      // no pass yet
  EXPECT_EQ(post("/verify", "", "wrong-token").status, 401);  // starting one takes the token
  std::vector<std::thread> writers;
  writers.reserve(kClients);
  std::atomic<int> done{0};
  for (int client = 0; client < kClients; ++client) {
    writers.emplace_back([&, client] {
      write_through(proxy_->conninfo(kDatabase), client);
      ++done;
    });
  }
  // Passes back to back while the writers run: each must find both databases equal.
  int passes_under_load = 0;
  uint64_t holds = 0;
  while (done.load() < kClients) {
    const json::object report = verify_now();
    ASSERT_TRUE(report.at("equal").as_bool()) << json::serialize(report);
    EXPECT_EQ(report.at("error").as_string(), "");
    EXPECT_EQ(report.at("tables").as_array().size(), 2u);
    holds += report.at("commit_holds").at("count").to_number<uint64_t>();
    ++passes_under_load;
  }
  for (std::thread& w : writers) w.join();
  EXPECT_GE(passes_under_load, 1);
  EXPECT_GE(holds, 2u * passes_under_load);  // one pair per table and pass
  const int transfers = kClients * kTransactionsPerClient * 4 / 5;
  EXPECT_EQ(TwoClusters::new_db().query("select count(*) from history", kDatabase),
            std::to_string(transfers));
  EXPECT_EQ(old_db().query("select sum(balance) from accounts", kDatabase),
            std::to_string(kClients * kTransactionsPerClient / 5));

  // A change behind cutover's back, on new only: found, with its key and column.
  TwoClusters::new_db().query("update accounts set balance = balance + 1 where id = 7", kDatabase);
  const json::object found = verify_now();
  EXPECT_FALSE(found.at("equal").as_bool());
  const json::array& tables = found.at("tables").as_array();
  ASSERT_EQ(tables.size(), 2u);
  EXPECT_EQ(json::serialize(tables[0].at("rows")),
            R"j([{"kind":"different","key":"(id)=(7)","columns":["balance"]}])j");
  EXPECT_EQ(tables[0].at("table").as_string(), "public.accounts");
  const std::string divergences = get("/divergences").body;
  EXPECT_NE(
      divergences.find(R"j("kind":"verification","table":"public.accounts","keys":["(id)=(7)"])j"),
      std::string::npos)
      << divergences;
  const std::string metrics = get("/metrics").body;
  EXPECT_NE(metrics.find("cutover_verify_mismatched_rows{table=\"public.accounts\"} 1"),
            std::string::npos);

  const CommandResult listed = ctl({"verify-report"});
  EXPECT_EQ(listed.status, 0) << listed.err;
  EXPECT_NE(listed.out.find("table=public.accounts equal=false rows_old=500 rows_new=500 "
                            "differing_rows=1 problem=\n"
                            R"j(  {"kind":"different","key":"(id)=(7)","columns":["balance"]})j"),
            std::string::npos)
      << listed.out;

  // Repaired by hand: the next pass, started with cutover ctl, proves it equal and closes the
  // divergence.
  TwoClusters::new_db().query("update accounts set balance = balance - 1 where id = 7", kDatabase);
  const CommandResult started = ctl({"verify"});
  EXPECT_EQ(started.status, 0) << started.err;
  const uint64_t pass = found.at("pass").to_number<uint64_t>() + 1;
  EXPECT_EQ(started.out, "verification pass " + std::to_string(pass) + " started\n");
  const json::object repaired = report_of(pass);
  EXPECT_TRUE(repaired.at("equal").as_bool()) << json::serialize(repaired);
  EXPECT_EQ(repaired.at("divergences_closed").to_number<uint64_t>(), 1u);
  EXPECT_NE(get("/status").body.find("\"divergences\":{\"open\":0"), std::string::npos);
}

}  // namespace
}  // namespace cutover::testing
