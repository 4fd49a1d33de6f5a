// The fixture of the read-routing suites: cutover in dual_write in front of the shared old and
// new clusters, and the query whose answer names the database that ran it (each reports its
// own port, so counts are the servers', not cutover's).
#pragma once

#include <fstream>
#include <functional>
#include <sstream>
#include <string>
#include <vector>

#include "tests/proxy/proxy_fixture.h"

namespace cutover::testing {

inline constexpr char kWhichServer[] = "select current_setting('port')";

// The mismatch log's lines once its last line satisfies `done` (the comparator works off the
// client's path, in order: lines before it are in too); what is there after 5 s otherwise.
inline std::vector<std::string> mismatch_lines_until(
    const CutoverProcess& proxy, const std::function<bool(const std::string&)>& done) {
  const auto path = proxy.dir() / "cutover-data" / "mismatches.jsonl";
  std::vector<std::string> lines;
  wait_until(
      [&] {
        lines.clear();
        std::ifstream in(path);
        for (std::string line; std::getline(in, line);) lines.push_back(line);
        return !lines.empty() && done(lines.back());
      },
      std::chrono::seconds(5));
  return lines;
}

// Every row of every table of `db`'s postgres database (outside the system schemas), each table
// named and its rows as text in sorted order: two databases with equal contents give the same
// string, whatever order the rows were written in.
inline std::string every_row(const PgCluster& db) {
  const std::string tables = db.query(
      "select quote_ident(schemaname) || '.' || quote_ident(tablename) from pg_tables "
      "where schemaname not in ('pg_catalog', 'information_schema') order by 1");
  std::string out;
  std::istringstream names(tables);
  for (std::string table; std::getline(names, table);) {
    out += table + ":\n" +
           db.query("select coalesce(string_agg(r::text, e'\\n' order by r::text), '') from " +
                    table + " r") +
           "\n";
  }
  return out;
}

// The error `sql` ends with on `c`, as "SQLSTATE: message"; "no error" when it succeeds.
inline std::string error_of(Connection& c, const std::string& sql) {
  try {
    c.exec(sql);
  } catch (const QueryError& e) {
    return e.sqlstate() + ": " + e.what();
  }
  return "no error";
}

class RoutingTest : public ProxyTest {
 protected:
  void SetUp() override { start_routing(100); }
  uint16_t new_backend_port() const override { return TwoClusters::new_db().port(); }

  void start_routing(double percent, const std::string& more = "") {
    std::ostringstream yaml;
    yaml << "migration:\n  phase: dual_write\n  read_ramp_percent: " << percent << "\n" << more;
    start_proxy(yaml.str());
  }
  std::string old_port() const { return std::to_string(old_db().port()); }
  std::string new_port() const { return std::to_string(TwoClusters::new_db().port()); }
};

// Routing tests in dual_write that write through cutover: whatever a test wrote, old and new
// end identical, every table compared in full; a test that makes them differ on purpose says
// so (differs_on_purpose_).
class MirroringTest : public RoutingTest {
 protected:
  void TearDown() override {
    if (!differs_on_purpose_ && !HasFatalFailure()) {
      EXPECT_EQ(every_row(TwoClusters::new_db()), every_row(old_db()))
          << "old and new differ after the test";
    }
    RoutingTest::TearDown();
  }
  bool differs_on_purpose_ = false;
};

}  // namespace cutover::testing
