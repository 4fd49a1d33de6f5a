// `cutover verify --once` against real clusters: each test gets a database of its own on old
// and new, fills both the same way (or not), runs the command as an operator would and checks
// the JSON lines, the exit code and the open divergences it leaves.
#include <gtest/gtest.h>
#include <sys/file.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "proxy/migration/divergence_ledger.h"
#include "tests/harness/two_clusters.h"
#include "tests/harness/util.h"

namespace cutover::testing {
namespace {

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  std::sort(lines.begin(), lines.end());
  return lines;
}

class VerificationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = make_temp_dir("cutover-verify-");
    database_ =
        "verify_" + std::string(::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::transform(database_.begin(), database_.end(), database_.begin(), ::tolower);
    for (PgCluster* db : {&TwoClusters::old_db(), &TwoClusters::new_db()}) {
      db->query("drop database if exists " + database_);
      db->query("create database " + database_);
    }
    // new's sessions print times, dates, floats and money differently: the hashes must not care.
    TwoClusters::new_db().query("alter database " + database_ +
                                " set timezone = 'Asia/Kolkata'; alter database " + database_ +
                                " set datestyle = 'SQL, DMY'; alter database " + database_ +
                                " set extra_float_digits = 0; alter database " + database_ +
                                " set intervalstyle = 'sql_standard'");
  }
  void TearDown() override {
    for (PgCluster* db : {&TwoClusters::old_db(), &TwoClusters::new_db()}) {
      db->query("drop database if exists " + database_ + " with (force)");
    }
    std::filesystem::remove_all(dir_);
  }

  void on_both(const std::string& sql) {
    on_old(sql);
    on_new(sql);
  }
  void on_old(const std::string& sql) { TwoClusters::old_db().query(sql, database_); }
  void on_new(const std::string& sql) { TwoClusters::new_db().query(sql, database_); }

  // Runs `cutover verify --config … --once` with `args` added, ranges of `range_rows`.
  CommandResult verify(const std::vector<std::string>& args = {}, int range_rows = 1000) {
    const auto config = dir_ / "cutover.yaml";
    std::ofstream(config) << "auth: { method: trust, trust_addresses: [127.0.0.1/32] }\n"
                          << "backends:\n"
                          << "  old: { port: " << TwoClusters::old_db().port()
                          << ", user: postgres, "
                          << "database: " << database_ << ", sslmode: disable }\n"
                          << "  new: { port: " << TwoClusters::new_db().port()
                          << ", user: postgres, "
                          << "database: " << database_ << ", sslmode: disable }\n"
                          << "verify: { journal_dir: " << (dir_ / "journal").string()
                          << ", divergence_log: " << divergence_log().string()
                          << ", checksum: { range_rows: " << range_rows
                          << ", max_load_percent: 100 } }\n"
                          << "log: { level: warn, format: text }\n";
    std::vector<std::string> argv{CUTOVER_BINARY, "verify", "--config", config.string(), "--once"};
    argv.insert(argv.end(), args.begin(), args.end());
    return run_command(argv);
  }
  std::filesystem::path divergence_log() const { return dir_ / "divergences.jsonl"; }

  std::filesystem::path dir_;
  std::string database_;
};

// Every type family in the canonical forms, written once on each side: new's columns use other
// types where a migration would (numeric scale, bigint for int), its sessions other settings.
TEST_F(VerificationTest, TheSameDataIsEqualWhateverTheTypesSettingsAndRowOrder) {
  on_both(
      "create type mood as enum ('ok', 'sad'); create type pair as (a int, b text);"
      "create domain price as numeric check (value >= 0)");
  const std::string columns =
      "f8 float8, f4 real, at timestamptz, ts timestamp, d date, iv interval, j json, jb jsonb, "
      "b bytea, arr int[], p pair, r int4range, m mood, cash money, pr price, t text, "
      "c varchar(20), flag boolean, u uuid";
  on_old("create table types(id int primary key, n numeric(12,1), " + columns + ")");
  on_new("create table types(id bigint primary key, n numeric(12,3), " + columns + ")");
  const std::string rows =
      "insert into types select g, g / 10.0, g * 1.25, (g / 3.0)::real, "
      "'2026-12-07 10:00:00+00'::timestamptz + g * interval '1 minute', "
      "'2026-12-07 10:00:00'::timestamp, '2026-12-07'::date + g, g * interval '90 minutes', "
      "'{\"b\": 1,  \"a\": [1, 2]}'::json, '{\"b\": 1, \"a\": [1, 2]}'::jsonb, "
      "decode(repeat('ab', 2000 + g), 'hex'), array[g, g + 1], row(g, 'x')::pair, "
      "int4range(g, g + 10), 'ok', g * 1.5, g / 4.0, "
      "case when g % 2 = 0 then '' end, 'é' || g, g % 3 = 0, md5(g::text)::uuid "
      "from generate_series(1, 3000) g";
  on_old(rows);
  on_new(rows + " order by g desc");  // stored in another order

  const CommandResult result = verify();
  EXPECT_EQ(result.status, 0) << result.out << result.err;
  EXPECT_EQ(result.out, "");
  EXPECT_NE(result.err.find("tables=1 equal=1 rows_old=3000 rows_new=3000 differing_rows=0"),
            std::string::npos)
      << result.err;
}

// A table of 20,000 rows in ranges of 1,000: each kind of difference is found by bisection and
// named by key, with the columns that differ.
TEST_F(VerificationTest, EveryDifferenceIsNamedByKeyWithItsColumns) {
  on_both(
      "create table orders(region text, id int, total numeric, note text, f float8, "
      "doc json, primary key (region, id));"
      "insert into orders select case when g % 2 = 0 then 'eu' else 'us' end, g, g * 2.5, "
      "'n' || g, 1.0, '{\"a\": 1}' from generate_series(1, 20000) g");
  on_new(
      "update orders set total = total + 0.01 where id = 777;"  // a value
      "update orders set note = '' where id = 4242;"            // NULL is not ''
      "update orders set note = null where id = 4244;"
      "update orders set f = '-0' where id = 9000;"                     // -0 is not 0
      "update orders set f = '-0', doc = '{\"a\":1}' where id = 9002;"  // json is as written
      "delete from orders where id = 15000;"
      "insert into orders values ('zz', 1, 0, 'only on new', 0, null)");
  on_old("update orders set note = null where id = 4242; update orders set f = 0 where id = 9000");

  const CommandResult result = verify();
  EXPECT_EQ(result.status, 1) << result.err;
  EXPECT_EQ(
      lines_of(result.out),
      (std::vector<std::string>{
          R"j({"table":"public.orders","kind":"different","key":"(region, id)=(eu, 4242)","columns":["note"]})j",
          R"j({"table":"public.orders","kind":"different","key":"(region, id)=(eu, 4244)","columns":["note"]})j",
          R"j({"table":"public.orders","kind":"different","key":"(region, id)=(eu, 9000)","columns":["f"]})j",
          R"j({"table":"public.orders","kind":"different","key":"(region, id)=(eu, 9002)","columns":["f","doc"]})j",
          R"j({"table":"public.orders","kind":"different","key":"(region, id)=(us, 777)","columns":["total"]})j",
          R"j({"table":"public.orders","kind":"missing_on_new","key":"(region, id)=(eu, 15000)"})j",
          R"j({"table":"public.orders","kind":"only_on_new","key":"(region, id)=(zz, 1)"})j"}));
  EXPECT_NE(result.err.find("differing_rows=7"), std::string::npos) << result.err;

  // Row by row, the same differences.
  const CommandResult rows = verify({"--row-level"});
  EXPECT_EQ(rows.status, 1);
  EXPECT_EQ(lines_of(rows.out), lines_of(result.out));
}

// A key whose type changed (numeric(10,0) to numeric(10,3)) is matched by value, row by row
// too, and a key only new's type can hold is found without the bisection looping: the key
// read on new is cast back to old's type without its modifier (no rounding to 501).
TEST_F(VerificationTest, KeysOfAnotherTypeAreMatchedByValue) {
  on_old("create table k(id numeric(10,0) primary key, v text)");
  on_new("create table k(id numeric(10,3) primary key, v text)");
  on_both("insert into k select g, 'v' || g from generate_series(1, 2000) g");
  on_new("insert into k values (500.5, 'between')");
  const std::vector<std::string> expected{
      R"j({"table":"public.k","kind":"only_on_new","key":"(id)=(500.500)"})j"};
  const CommandResult result = verify();
  EXPECT_EQ(result.status, 1) << result.err;
  EXPECT_EQ(lines_of(result.out), expected);
  const CommandResult rows = verify({"--row-level"});
  EXPECT_EQ(rows.status, 1) << rows.err;
  EXPECT_EQ(lines_of(rows.out), expected);
}

// 120 columns: more than a function call's 100 arguments.
TEST_F(VerificationTest, AWideTableIsComparedColumnByColumn) {
  std::string columns;
  for (int i = 1; i <= 120; ++i)
    columns += ", c" + std::to_string(i) + " int default " + std::to_string(i);
  on_both("create table wide(id int primary key" + columns +
          "); insert into wide(id) values (1), (2)");
  on_new("update wide set c117 = 0 where id = 2");
  const CommandResult result = verify();
  EXPECT_EQ(result.status, 1) << result.err;
  EXPECT_EQ(result.out,
            R"j({"table":"public.wide","kind":"different","key":"(id)=(2)","columns":["c117"]})j"
            "\n");
}

TEST_F(VerificationTest, TablesOnOneSideAndTablesWithoutAKey) {
  on_both(
      "create table log(at int, v text); insert into log select g, 'x' from generate_series(1, 50) "
      "g;"
      "create table same(v int); insert into same values (1), (2)");
  on_old("create table gone(id int primary key)");
  on_new(
      "create table extra(id int primary key); create schema s; create table s.log(id int primary "
      "key);"
      "insert into log values (51, 'x')");
  const CommandResult result = verify();
  EXPECT_EQ(result.status, 1);
  EXPECT_EQ(
      lines_of(result.out),
      (std::vector<std::string>{
          R"j({"table":"public.extra","kind":"table_only_on_new","detail":"the table exists on one side only"})j",
          R"j({"table":"public.gone","kind":"table_missing_on_new","detail":"the table exists on one side only"})j",
          R"j({"table":"public.log","kind":"rows_differ","detail":"old has 50 rows, new 51, and their hashes differ; without the same primary key on both sides the rows cannot be named"})j",
          R"j({"table":"s.log","kind":"table_only_on_new","detail":"the table exists on one side only"})j"}));
  // --table picks tables by name or qualified name.
  const CommandResult one = verify({"--table", "same", "--table", "public.gone"});
  EXPECT_EQ(one.status, 1);
  EXPECT_EQ(
      lines_of(one.out),
      (std::vector<std::string>{
          R"j({"table":"public.gone","kind":"table_missing_on_new","detail":"the table exists on one side only"})j"}));
  EXPECT_NE(one.err.find("tables=2 equal=1"), std::string::npos) << one.err;
  // A name that matches no table is a mistake, not an empty success.
  const CommandResult typo = verify({"--table", "pubic.gone"});
  EXPECT_EQ(typo.status, 1);
  EXPECT_EQ(typo.out, "");
  EXPECT_NE(typo.err.find("42P01: no table named pubic.gone on old or new"), std::string::npos)
      << typo.err;
}

// Offline (no cutover holds the journal) the verdicts settle the open divergences.
TEST_F(VerificationTest, DifferencesOpenDivergencesAndEqualTablesCloseThem) {
  on_both(
      "create table a(id int primary key, v int); insert into a values (1, 1), (2, 2);"
      "create table b(id int primary key); insert into b values (1)");
  on_new("update a set v = 0 where id = 2");
  {
    proxy::DivergenceLedger ledger(divergence_log());
    ledger.open({.kind = "mismatch", .table = "b", .fingerprint = 1});  // as a write named it
    ledger.open({.kind = "unpinned_write", .table = "a", .fingerprint = 2});
    // Nothing names its table: no pass proves it settled.
    ledger.open({.kind = "comparator_dropped", .fingerprint = 3});
  }
  const CommandResult first = verify();
  EXPECT_EQ(first.status, 1);
  EXPECT_NE(first.err.find("divergences: closed=1 open=3"), std::string::npos) << first.err;
  {
    const proxy::DivergenceLedger ledger(divergence_log());
    const auto items = ledger.open_items();
    ASSERT_EQ(items.size(), 3u);
    EXPECT_EQ(items[0].kind, "unpinned_write");
    EXPECT_EQ(items[2].kind, "verification");
    EXPECT_EQ(items[2].table, "public.a");
    EXPECT_EQ(items[2].keys, std::vector<std::string>{"(id)=(2)"});
  }
  // While a cutover holds the journal, the running one owns the divergences.
  std::filesystem::create_directories(dir_ / "journal");
  const int lock = ::open((dir_ / "journal" / "lock").c_str(), O_RDWR | O_CREAT, 0600);
  ASSERT_EQ(::flock(lock, LOCK_EX | LOCK_NB), 0);
  on_new("update a set v = 2 where id = 2");
  const CommandResult held = verify();
  ::close(lock);
  EXPECT_EQ(held.status, 0) << held.out;
  EXPECT_NE(held.err.find("divergences: unchanged, a running cutover owns them"), std::string::npos)
      << held.err;
  EXPECT_EQ(proxy::DivergenceLedger(divergence_log()).open_count(), 3u);

  const CommandResult equal = verify();
  EXPECT_EQ(equal.status, 0) << equal.out;
  EXPECT_NE(equal.err.find("divergences: closed=2 open=1"), std::string::npos) << equal.err;
  const auto left = proxy::DivergenceLedger(divergence_log()).open_items();
  ASSERT_EQ(left.size(), 1u);
  EXPECT_EQ(left[0].kind, "comparator_dropped");
}

}  // namespace
}  // namespace cutover::testing
