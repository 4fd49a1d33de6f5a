// The fixture of MirrorTest: cutover in dual_write over the two clusters with a `mirrored`
// table on both, and BothOrderingsTest, which runs a test in both mirror.ordering modes.
#pragma once

#include <libpq-fe.h>

#include <cstdio>
#include <fstream>
#include <iterator>
#include <memory>
#include <string>
#include <vector>

#include "router/classify.h"
#include "tests/proxy/routing_fixture.h"

namespace cutover::testing {

using ResultPtr = std::unique_ptr<PGresult, decltype(&PQclear)>;

// How cutover's logs and mismatch log name a statement.
inline std::string proxy_log_hex(const std::string& sql) {
  char text[17];
  std::snprintf(text, sizeof text, "%016llx",
                static_cast<unsigned long long>(router::fingerprint(sql)));
  return text;
}

class MirrorTest : public MirroringTest {
 protected:
  void SetUp() override {
    for (PgCluster* db : {&old_db(), &TwoClusters::new_db()}) {
      db->query("drop table if exists mirrored; create table mirrored(id int primary key, v text)");
    }
    start_routing(0, config());
  }
  // The migration section's lines beyond the read ramp.
  virtual std::string config() const { return "  read_your_writes_ms: 0\n"; }
  static std::string rows(const PgCluster& db) {
    return db.query("select id, v from mirrored order by id");
  }
  // cutover sampling every read for a shadow read, at `ramp`, and row 2 differing on new.
  void start_shadowing_with_drift(double ramp) {
    differs_on_purpose_ = true;
    start_routing(ramp, "  read_your_writes_ms: 0\n  shadow_reads_percent: 100\n");
    old_db().query("insert into mirrored values (1, 'same'), (2, 'old')");
    TwoClusters::new_db().query("insert into mirrored values (1, 'same'), (2, 'new drifted')");
  }
};

// Writes mirrored by their effect: `ev` has a key, `nokey` none.
class EffectTablesTest : public MirrorTest {
 protected:
  void SetUp() override {
    for (PgCluster* db : {&old_db(), &TwoClusters::new_db()}) {
      db->query(
          "drop table if exists ev, nokey; create table ev(id int primary key, n int, at "
          "timestamptz); create table nokey(n int)");
    }
    MirrorTest::SetUp();
  }
};

// Each witness test makes new differ on purpose, to be found: the mismatch log and the open
// divergences say where.
class WitnessTablesTest : public EffectTablesTest {
 protected:
  void SetUp() override {
    differs_on_purpose_ = true;
    EffectTablesTest::SetUp();
  }
  std::string divergences() const {
    std::ifstream in(proxy_->dir() / "cutover-data" / "divergences.jsonl");
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  }
  // New adds 1000 to n whenever a row of `table` is updated there.
  static void alter_n_on_new(const std::string& table = "ev") {
    TwoClusters::new_db().query(
        "create or replace function bump() returns trigger language plpgsql as "
        "$$ begin new.n := new.n + 1000; return new; end $$; "
        "create trigger bump before update on " +
        table + " for each row execute function bump()");
  }
  // New stores -n for the row of ev with id 2 when it is inserted there.
  static void negate_inserted_id_2_on_new() {
    TwoClusters::new_db().query(
        "create or replace function tweak() returns trigger language plpgsql as "
        "$$ begin if new.id = 2 then new.n := -new.n; end if; return new; end $$; "
        "create trigger tweak before insert on ev for each row execute function tweak()");
  }
};

inline bool has(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// A mismatch line's effects object when one row of `table`, `key`, differs in `column`.
inline std::string one_row_differing(const std::string& table, const std::string& key,
                                     const std::string& column) {
  return R"("effects":{"table":")" + table +
         R"(","old_rows":1,"new_rows":1,"complete":true,"rows":[{"key":")" + key +
         R"(","kind":"different","columns":[")" + column + R"("]}]})";
}

// Ends a pipeline of `count` queries with a Sync: each one's tag and rows ("DELETE 2 20 50",
// columns joined by commas).
inline std::vector<std::string> pipeline_results(const Connection& c, size_t count) {
  EXPECT_EQ(PQpipelineSync(c.get()), 1);
  std::vector<std::string> answers;
  for (size_t i = 0; i < count; ++i) {
    ResultPtr r(PQgetResult(c.get()), &PQclear);
    if (r == nullptr) break;
    EXPECT_TRUE(PQresultStatus(r.get()) == PGRES_COMMAND_OK ||
                PQresultStatus(r.get()) == PGRES_TUPLES_OK)
        << PQresultErrorMessage(r.get());
    std::string answer = PQcmdStatus(r.get());
    for (int row = 0; row < PQntuples(r.get()); ++row) {
      for (int column = 0; column < PQnfields(r.get()); ++column) {
        answer += (column == 0 ? " " : ",") + std::string(PQgetvalue(r.get(), row, column));
      }
    }
    answers.push_back(answer);
    EXPECT_EQ(ResultPtr(PQgetResult(c.get()), &PQclear), nullptr);
  }
  ResultPtr sync(PQgetResult(c.get()), &PQclear);
  EXPECT_EQ(PQresultStatus(sync.get()), PGRES_PIPELINE_SYNC);
  EXPECT_EQ(PQexitPipelineMode(c.get()), 1);
  return answers;
}

// What holds in both mirror.ordering modes, strict and parallel.
class BothOrderingsTest : public MirrorTest, public ::testing::WithParamInterface<std::string> {
 protected:
  std::string config() const override {
    return MirrorTest::config() + "  mirror: { ordering: " + GetParam() + " }\n";
  }
};

// The mismatch log's lines once `fingerprint_sql`'s mismatch is in.
inline std::vector<std::string> mismatches_through(const CutoverProcess& proxy,
                                                   const std::string& fingerprint_sql) {
  const std::string needle = "\"fingerprint\":\"" + proxy_log_hex(fingerprint_sql) + "\"";
  return mismatch_lines_until(
      proxy, [&](const std::string& last) { return last.find(needle) != std::string::npos; });
}

}  // namespace cutover::testing
