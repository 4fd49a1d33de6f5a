// The fixture of JournalReplayTest: cutover in dual_write over old and a new cluster of the
// suite's own, which the tests stop and start, with the journal and mismatch log kept in a
// directory across restarts of cutover.
#pragma once

#include <libpq-fe.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "tests/proxy/admin_fixture.h"

namespace cutover::testing {

using ResultPtr = std::unique_ptr<PGresult, decltype(&PQclear)>;

class JournalReplayTest : public ProxyTest {
 protected:
  static void SetUpTestSuite() {
    new_cluster_ = std::make_unique<PgCluster>(PgCluster::Options{.name = "replay-new"});
  }
  static void TearDownTestSuite() { new_cluster_.reset(); }

  void SetUp() override {
    ASSERT_NE(new_cluster_, nullptr) << "the suite's cluster did not start";
    new_cluster_->start();  // a test that failed half way may have left it stopped
    new_cluster_->query("drop event trigger if exists slow_ddl");
    for (PgCluster* db : {&old_db(), new_cluster_.get()}) {
      db->query("drop table if exists replayed; create table replayed(id int primary key, v text)");
    }
    start();
  }
  uint16_t new_backend_port() const override { return new_cluster_->port(); }

  // cutover at read ramp 100 with the journal (unless `journal` names another directory) and
  // mismatch log in `data_` (kept across restarts).
  void start(const std::string& mirror = "", const std::filesystem::path& journal = {}) {
    start_proxy(
        "migration:\n  phase: dual_write\n  read_ramp_percent: 100\n"
        "  read_your_writes_ms: 0\n" +
        mirror +
        "verify:\n  journal_dir: " + (journal.empty() ? data_ / "journal" : journal).string() +
        "\n  mismatch_log: " + (data_ / "mismatches.jsonl").string() +
        "\n  divergence_log: " + (data_ / "divergences.jsonl").string() + "\n");
  }
  static std::string rows(const PgCluster& db) {
    return db.query("select id, v from replayed order by id");
  }
  // Events in cutover's log, in order, among the mirror's mode changes.
  size_t count_in_log(const std::string& event) const {
    const std::string log = proxy_->log();
    const std::string needle = "\"event\":\"" + event + "\"";
    size_t n = 0;
    for (size_t at = log.find(needle); at != std::string::npos; at = log.find(needle, at + 1)) ++n;
    return n;
  }
  // Waits until the mirror's latest mode change in the log is the one back to live.
  bool wait_for_live() const {
    using namespace std::chrono_literals;
    return wait_until(
        [&] {
          const std::string log = proxy_->log();
          const size_t live = log.rfind("\"event\":\"mirror_live\"");
          if (live == std::string::npos) return false;
          for (const char* behind :
               {"mirror_behind", "mirror_handover_postponed", "journal_not_replayed"}) {
            const size_t at = log.rfind("\"event\":\"" + std::string(behind) + "\"");
            if (at != std::string::npos && at > live) return false;
          }
          return true;
        },
        30s);
  }
  std::vector<std::string> mismatch_lines(const std::string& kind) const {
    std::vector<std::string> lines;
    std::ifstream in(data_ / "mismatches.jsonl");
    for (std::string line; std::getline(in, line);) {
      if (line.find("\"kind\":\"" + kind + "\"") != std::string::npos) lines.push_back(line);
    }
    return lines;
  }
  std::string which_server(Connection& c) const { return c.query_value(kWhichServer); }

  ScratchDir data_;
  static std::unique_ptr<PgCluster> new_cluster_;
};

inline std::unique_ptr<PgCluster> JournalReplayTest::new_cluster_;

}  // namespace cutover::testing
