// The admin port against a real cutover in dual_write in front of the real old and new
// clusters: status, health, readiness and metrics; ramp changes that move reads at once and
// survive a kill -9; rollback and resume; bad tokens (401), bad bodies (400), refused
// transitions (409 naming the rule or gate); the audit log; and `cutover ctl`.
#include <array>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "tests/proxy/admin_fixture.h"

namespace cutover::testing {
namespace {

class AdminTest : public AdminFixture {
 protected:
  void SetUp() override {
    AdminFixture::SetUp();
    start_admin(0);
  }
};

TEST_F(AdminTest, StatusHealthReadinessAndMetricsDescribeTheMigration) {
  Connection client = connect_proxy();
  HttpReply status = get("/status");
  EXPECT_EQ(status.status, 200);
  EXPECT_EQ(status.body,
            "{\"phase\":\"dual_write\",\"read_ramp_percent\":0,\"version\":0,"
            "\"source_of_truth\":\"old\",\"mirror\":{\"healthy\":true,\"journal_records\":0},"
            "\"mismatches\":{\"total\":0},\"divergences\":{\"open\":0,\"tables\":[]},"
            "\"clients\":1,\"build\":{\"version\":\"0.1.0\"}}\n");
  EXPECT_EQ(get("/healthz").status, 200);
  EXPECT_EQ(get("/readyz").status, 200);
  HttpReply readiness = get("/readiness");
  EXPECT_EQ(readiness.status, 200);
  EXPECT_NE(readiness.body.find("\"ready\":false"), std::string::npos) << readiness.body;
  EXPECT_NE(readiness.body.find("{\"name\":\"read_ramp_percent\",\"value\":\"0\",\"threshold\":"
                                "\"100\",\"pass\":false}"),
            std::string::npos)
      << readiness.body;
  EXPECT_NE(readiness.body.find("{\"name\":\"mismatches_in_window\",\"value\":\"0\","
                                "\"threshold\":\"0 in 60 s\",\"pass\":true}"),
            std::string::npos)
      << readiness.body;
  HttpReply metrics = get("/metrics");
  EXPECT_EQ(metrics.status, 200);
  for (const char* line :
       {"cutover_phase{phase=\"dual_write\"} 1\n", "cutover_phase{phase=\"passthrough\"} 0\n",
        "cutover_read_ramp_ratio 0\n", "cutover_client_connections 1\n",
        "cutover_journal_records 0\n", "# TYPE cutover_comparator_pairs_total counter\n",
        "cutover_serving{database=\"old\"} 1\n", "cutover_serving{database=\"new\"} 0\n",
        "cutover_role_switch_holding 0\n", "cutover_mirror_lag_seconds 0\n",
        "cutover_divergences_open 0\n"}) {
    EXPECT_NE(metrics.body.find(line), std::string::npos) << line << metrics.body;
  }
  EXPECT_EQ(get("/nothing").status, 404);
}

// /metrics read by the Prometheus project's own text-format parser (python3-prometheus-client):
// every sample as "name{label="value",...} value", labels sorted.
std::map<std::string, double> parse_metrics(const std::filesystem::path& dir,
                                            const std::string& text) {
  std::ofstream(dir / "metrics.txt") << text;
  CommandResult parsed = run_command(
      {"/usr/bin/python3", "-c",
       "import sys\n"
       "from prometheus_client.parser import text_string_to_metric_families\n"
       "for family in text_string_to_metric_families(open(sys.argv[1]).read()):\n"
       "    for s in family.samples:\n"
       "        labels = ','.join(f'{k}=\"{v}\"' for k, v in sorted(s.labels.items()))\n"
       "        print(f'{s.name}{{{labels}}} {s.value}')\n",
       (dir / "metrics.txt").string()});
  EXPECT_EQ(parsed.status, 0) << parsed.err;
  std::map<std::string, double> samples;
  std::istringstream lines(parsed.out);
  for (std::string line; std::getline(lines, line);) {
    const size_t space = line.rfind(' ');
    samples[line.substr(0, space)] = std::stod(line.substr(space + 1));
  }
  return samples;
}

TEST_F(AdminTest, MetricsParseAsPrometheusTextAndCountTheTraffic) {
  auto before = parse_metrics(dir_, get("/metrics").body);
  EXPECT_EQ(before["cutover_phase{phase=\"dual_write\"}"], 1);
  EXPECT_EQ(before["cutover_read_ramp_ratio{}"], 0);
  EXPECT_EQ(before["cutover_circuit_breaker_open{}"], 0);
  Connection c = connect_proxy();
  c.exec("drop table if exists counted; create table counted(v int)");
  c.exec("insert into counted values (1)");
  EXPECT_EQ(c.query_value(kWhichServer), old_port());
  ASSERT_EQ(post("/ramp", "{\"percent\": 100}").status, 200);
  EXPECT_EQ(c.query_value(kWhichServer), new_port());
  std::map<std::string, double> after;
  auto moved = [&](const std::string& sample) { return after[sample] - before[sample]; };
  // The comparator counts a pair once its thread has compared it: awaited.
  EXPECT_TRUE(wait_until(
      [&] {
        after = parse_metrics(dir_, get("/metrics").body);
        return moved("cutover_comparator_pairs_total{}") == 2;
      },
      std::chrono::seconds(5)));
  EXPECT_EQ(moved("cutover_units_total{kind=\"ddl\",target=\"old\"}"), 1);
  EXPECT_EQ(moved("cutover_units_total{kind=\"write\",target=\"old\"}"), 1);
  EXPECT_EQ(moved("cutover_units_total{kind=\"read\",target=\"old\"}"), 1);
  EXPECT_EQ(moved("cutover_units_total{kind=\"read\",target=\"new\"}"), 1);
  EXPECT_EQ(moved("cutover_mirror_writes_total{result=\"applied\"}"), 2);  // DDL and INSERT
  EXPECT_EQ(moved("cutover_mirror_writes_total{result=\"not_applied\"}"), 0);
  EXPECT_GE(moved("cutover_backend_query_duration_seconds_count{backend=\"new\"}"), 3);
  EXPECT_GE(moved("cutover_backend_query_duration_seconds_count{backend=\"old\"}"), 2);
  EXPECT_EQ(after["cutover_read_ramp_ratio{}"], 1);
  EXPECT_EQ(after["cutover_client_connections{}"], 1);
  EXPECT_EQ(after["cutover_auth_failures_total{}"], 0);
}

TEST_F(AdminTest, ARampChangeMovesReadsAtOnceAndSurvivesKill9) {
  EXPECT_EQ(which_server(), old_port());
  HttpReply changed = post("/ramp", "{\"percent\": 100}");
  EXPECT_EQ(changed.status, 200);
  EXPECT_NE(changed.body.find("\"read_ramp_percent\":100,\"version\":1"), std::string::npos)
      << changed.body;
  EXPECT_EQ(which_server(), new_port());
  EXPECT_EQ(post("/ramp", "{\"step\": -25}").status, 200);
  EXPECT_NE(get("/status").body.find("\"read_ramp_percent\":75,\"version\":2"), std::string::npos);
  // kill -9 (start_admin kills the running process first), then back at 75 %, version 2,
  // whatever the configuration says.
  start_admin(0);
  EXPECT_NE(get("/status").body.find("\"read_ramp_percent\":75,\"version\":2"), std::string::npos)
      << get("/status").body;
  EXPECT_NE(proxy_->log().find("\"event\":\"state_restored\""), std::string::npos);
  // Every change is in the audit log: from where, old and new.
  const std::string audit = read_file(dir_ / "audit.jsonl");
  EXPECT_NE(
      audit.find("\"remote\":\"127.0.0.1\",\"change\":\"ramp\",\"forced\":false,"
                 "\"old\":{\"phase\":\"dual_write\",\"read_ramp_percent\":0,\"version\":0},"
                 "\"new\":{\"phase\":\"dual_write\",\"read_ramp_percent\":100,\"version\":1}}"),
      std::string::npos)
      << audit;
  EXPECT_EQ(std::count(audit.begin(), audit.end(), '\n'), 2);
}

TEST_F(AdminTest, BadTokensBadBodiesAndRefusedTransitionsAreAnsweredPrecisely) {
  EXPECT_EQ(post("/ramp", "{\"percent\": 50}", "").status, 401);
  EXPECT_EQ(post("/ramp", "{\"percent\": 50}", "wrong").status, 401);
  HttpReply not_json = post("/ramp", "fifty");
  EXPECT_EQ(not_json.status, 400);
  EXPECT_EQ(not_json.body, "{\"error\":\"the body must be a JSON object\"}\n");
  EXPECT_EQ(post("/ramp", "{\"percent\": 101}").body,
            "{\"error\":\"the read ramp must stay within 0..100\"}\n");
  EXPECT_EQ(post("/ramp", "{\"percent\": 12.345}").status, 400);
  EXPECT_EQ(post("/ramp", "{\"percent\": 1, \"step\": 1}").status, 400);
  EXPECT_EQ(post("/phase", "{\"action\": \"promoted\"}").body,
            "{\"error\":\"unknown action 'promoted'\"}\n");
  HttpReply promote = post("/phase", "{\"action\": \"promote\"}");
  EXPECT_EQ(promote.status, 409);
  EXPECT_EQ(promote.body, "{\"error\":\"gate read_ramp_percent is 0, needs 100\"}\n");
  EXPECT_EQ(post("/phase", "{\"action\": \"resume\"}").body,
            "{\"error\":\"resume is not possible in phase dual_write\"}\n");
  EXPECT_EQ(get("/status").body.find("\"version\":0,") != std::string::npos, true);
  EXPECT_FALSE(std::filesystem::exists(dir_ / "audit.jsonl"));  // nothing changed
}

TEST_F(AdminTest, RollbackSendsReadsToOldAtOnceAndResumeBringsThemBack) {
  ASSERT_EQ(post("/ramp", "{\"percent\": 100}").status, 200);
  EXPECT_EQ(which_server(), new_port());
  HttpReply rolled_back = post("/phase", "{\"action\": \"rollback\"}");
  EXPECT_EQ(rolled_back.status, 200);
  EXPECT_NE(rolled_back.body.find("\"phase\":\"rolled_back\""), std::string::npos);
  EXPECT_EQ(which_server(), old_port());
  Connection c = connect_proxy();  // writes are still mirrored to new
  c.exec("drop table if exists after_rollback; create table after_rollback(v int)");
  c.exec("insert into after_rollback values (1)");
  EXPECT_EQ(TwoClusters::new_db().query("select v from after_rollback"), "1");
  EXPECT_EQ(post("/ramp", "{\"percent\": 50}").status, 409);
  EXPECT_EQ(post("/phase", "{\"action\": \"resume\"}").status, 200);
  EXPECT_EQ(which_server(), new_port());
}

TEST_F(AdminTest, SighupReadsTheTokenFileAgain) {
  std::ofstream(dir_ / "token") << "the-next-token\n";
  EXPECT_EQ(post("/ramp", "{\"percent\": 5}").status, 200);  // not read again yet
  proxy_->signal(SIGHUP);
  ASSERT_TRUE(wait_until(
      [&] { return proxy_->log().find("\"admin_token\":\"reloaded\"") != std::string::npos; },
      std::chrono::seconds(5)));
  EXPECT_EQ(post("/ramp", "{\"percent\": 6}").status, 401);
  EXPECT_EQ(post("/ramp", "{\"percent\": 6}", "the-next-token").status, 200);
}

TEST_F(AdminTest, SighupChangesTheLogLevelLiveAndNamesWhatNeedsARestart) {
  const auto config = proxy_->dir() / "cutover.yaml";
  std::ofstream(config, std::ios::app) << "\nlog: { level: warn }\n";
  proxy_->signal(SIGHUP);
  ASSERT_TRUE(wait_until(
      [&] {
        return proxy_->log().find(
                   "\"event\":\"log_level_changed\",\"from\":\"info\","
                   "\"to\":\"warn\"") != std::string::npos;
      },
      std::chrono::seconds(5)));
  auto count = [&](const std::string& needle) {
    const std::string log = proxy_->log();
    size_t n = 0;
    for (size_t at = log.find(needle); at != std::string::npos; at = log.find(needle, at + 1)) ++n;
    return n;
  };
  const size_t connected = count("\"event\":\"client_connected\"");
  EXPECT_EQ(connect_proxy().query_value("select 1"), "1");
  EXPECT_EQ(count("\"event\":\"client_connected\""), connected);  // info: no longer written
  EXPECT_EQ(proxy_->log().find("reload_needs_restart"), std::string::npos);
  std::ofstream(config, std::ios::app) << "limits: { buffer_bytes: 8192 }\n";
  proxy_->signal(SIGHUP);
  EXPECT_TRUE(wait_until(
      [&] { return proxy_->log().find("\"event\":\"reload_needs_restart\"") != std::string::npos; },
      std::chrono::seconds(5)));
}

// Shadow reads and the timeouts change live: after SIGHUP a read is shadowed on new (whose row
// differs), and each change is logged with its old and new value; nothing needs a restart.
TEST_F(AdminTest, SighupChangesShadowReadsAndTimeoutsLive) {
  for (PgCluster* db : {&old_db(), &TwoClusters::new_db()}) {
    db->query("drop table if exists reloaded; create table reloaded(id int primary key, v text)");
  }
  old_db().query("insert into reloaded values (1, 'old')");
  TwoClusters::new_db().query("insert into reloaded values (1, 'new drifted')");
  const std::string read = "select v from reloaded where id = 1";
  EXPECT_EQ(connect_proxy().query_value(read), "old");  // not shadowed: the share is 0
  const auto path = proxy_->dir() / "cutover.yaml";
  std::string yaml = read_file(path);
  const size_t migration = yaml.find("migration:\n");
  ASSERT_NE(migration, std::string::npos) << yaml;
  yaml.insert(migration + 11, "  shadow_reads_percent: 100\n  fallback: { timeout_ms: 1500 }\n");
  std::ofstream(path) << yaml;
  proxy_->signal(SIGHUP);
  ASSERT_TRUE(wait_until(
      [&] {
        return proxy_->log().find(
                   "\"event\":\"setting_changed\",\"key\":"
                   "\"migration.fallback.timeout_ms\",\"from\":\"2000\","
                   "\"to\":\"1500\"") != std::string::npos;
      },
      std::chrono::seconds(5)))
      << proxy_->log();
  EXPECT_NE(proxy_->log().find("\"event\":\"setting_changed\",\"key\":"
                               "\"migration.shadow_reads_percent\",\"from\":\"0\",\"to\":"
                               "\"100\""),
            std::string::npos);
  EXPECT_EQ(connect_proxy().query_value(read), "old");
  const auto lines = mismatch_lines_until(*proxy_, [](const std::string& last) {
    return last.find("\"shadow_read\":true") != std::string::npos;
  });
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_NE(lines[0].find("\"kind\":\"rows\",\"shadow_read\":true"), std::string::npos) << lines[0];
  EXPECT_EQ(proxy_->log().find("reload_needs_restart"), std::string::npos);
}

TEST_F(AdminTest, ACorruptStateFileStopsTheStartWithItsName) {
  proxy_.reset();
  std::ofstream(dir_ / "state.json") << "{\"phase\": \"dual_write\", \"read_ramp_bas";
  const auto config = dir_ / "cutover.yaml";
  std::ofstream(config) << "listen: { port: " << free_port() << " }\n"
                        << "auth: { method: trust, trust_addresses: [127.0.0.1/32] }\n"
                        << "admin: { port: 0 }\ncontrol: { store: \"file:"
                        << (dir_ / "state.json").string() << "\" }\n";
  CommandResult run = run_command({CUTOVER_BINARY, "run", "--config", config.string()});
  EXPECT_EQ(run.status, 1);
  EXPECT_NE(run.err.find("state file " + (dir_ / "state.json").string() + ": not a JSON object"),
            std::string::npos)
      << run.err;
}

TEST_F(AdminTest, CtlSpeaksToTheAdminPortReadably) {
  CommandResult ramp = ctl({"ramp", "25"});
  EXPECT_EQ(ramp.status, 0) << ramp.err;
  EXPECT_NE(ramp.out.find("phase        dual_write (source of truth: old)\n"), std::string::npos)
      << ramp.out;
  EXPECT_NE(ramp.out.find("read ramp    25 %\n"), std::string::npos) << ramp.out;
  EXPECT_EQ(ctl({"ramp", "+5"}).status, 0);
  CommandResult status = ctl({"status"});
  EXPECT_NE(status.out.find("read ramp    30 %\nversion      2\n"), std::string::npos)
      << status.out;
  CommandResult promote = ctl({"promote"});
  EXPECT_EQ(promote.status, 1);
  EXPECT_EQ(promote.err, "cutover ctl: 409: gate read_ramp_percent is 30, needs 100\n");
  CommandResult readiness = ctl({"readiness"});
  EXPECT_EQ(readiness.status, 0);
  EXPECT_NE(readiness.out.find("ready to promote: no\n  FAIL  read_ramp_percent = 30 (needs 100)"),
            std::string::npos)
      << readiness.out;
  EXPECT_EQ(ctl({"ramp"}).status, 2);
  CommandResult unreachable =
      run_command({CUTOVER_BINARY, "ctl", "--admin",
                   "http://127.0.0.1:" + std::to_string(free_port()), "status"});
  EXPECT_EQ(unreachable.status, 1);
  EXPECT_NE(unreachable.err.find("cannot reach the admin port"), std::string::npos);
}

// Three instances sharing a control database (a table on old's cluster): a change made
// through any one's admin port reaches the others within a second (LISTEN/NOTIFY), rollback
// and promotion included, and a restarted instance comes back in the shared state.
class SharedControlTest : public RoutingTest {
 protected:
  void SetUp() override {
    if (old_db().query("select count(*) from pg_database where datname = 'cutover_control'") ==
        "0") {
      old_db().query("create database cutover_control");
    }
    old_db().query("drop table if exists cutover_control", "cutover_control");
    dir_ = make_temp_dir("cutover-shared-");
    std::ofstream(dir_ / "token") << kToken << "\n";
    for (size_t i = 0; i < instances_.size(); ++i) start_instance(i);
  }
  void TearDown() override {
    for (auto& instance : instances_) instance.reset();
    std::filesystem::remove_all(dir_);
  }
  void start_instance(size_t i) {
    instances_[i].reset();
    ports_[i] = free_port();
    start_routing(0, "  read_your_writes_ms: 0\nadmin: { port: " + std::to_string(ports_[i]) +
                         ", token_file: " + (dir_ / "token").string() +
                         ", audit_log: " + (dir_ / ("audit" + std::to_string(i))).string() +
                         " }\ncontrol: { store: \"postgresql://postgres@127.0.0.1:" + old_port() +
                         "/cutover_control\" }\n");
    instances_[i] = std::move(proxy_);
  }
  // Whether every instance's /status contains `text` within a second.
  bool all_within_a_second(const std::string& text) {
    return wait_until(
        [&] {
          for (uint16_t port : ports_) {
            if (http(port, "GET", "/status").body.find(text) == std::string::npos) return false;
          }
          return true;
        },
        std::chrono::seconds(1));
  }

  std::filesystem::path dir_;
  std::array<std::unique_ptr<CutoverProcess>, 3> instances_;
  std::array<uint16_t, 3> ports_{};
};

TEST_F(SharedControlTest, AChangeThroughAnyInstanceReachesAllWithinASecond) {
  ASSERT_EQ(http(ports_[0], "POST", "/ramp", "{\"percent\": 40}").status, 200);
  EXPECT_TRUE(all_within_a_second("\"read_ramp_percent\":40,\"version\":1,"));
  ASSERT_EQ(http(ports_[1], "POST", "/phase", "{\"action\": \"rollback\"}").status, 200);
  EXPECT_TRUE(
      all_within_a_second("\"phase\":\"rolled_back\",\"read_ramp_percent\":40,\"version\":2,"));
  EXPECT_NE(instances_[2]->log().find("\"event\":\"control_changed_elsewhere\""),
            std::string::npos);
  EXPECT_EQ(old_db().query("select phase, version from cutover_control", "cutover_control"),
            "rolled_back\t2");
  // kill -9 and restart: back in the shared state.
  start_instance(2);
  EXPECT_NE(http(ports_[2], "GET", "/status").body.find("\"phase\":\"rolled_back\""),
            std::string::npos);
  ASSERT_EQ(http(ports_[2], "POST", "/phase", "{\"action\": \"resume\"}").status, 200);
  EXPECT_TRUE(
      all_within_a_second("\"phase\":\"dual_write\",\"read_ramp_percent\":40,\"version\":3,"));
}

TEST_F(SharedControlTest, APromotionThroughOneInstanceSwitchesAllWithinASecond) {
  ASSERT_EQ(http(ports_[0], "POST", "/ramp", "{\"percent\": 100}").status, 200);
  ASSERT_TRUE(all_within_a_second("\"read_ramp_percent\":100,\"version\":1,"));
  Connection c = connect(instances_[2]->conninfo());  // connected before the promotion
  c.exec("drop table if exists shared_promo; create table shared_promo(v text)");
  auto source_of_truth = [&] {
    c.exec("begin");
    c.exec("insert into shared_promo values ('x')");
    const std::string port = c.query_value(kWhichServer);
    c.exec("commit");
    return port;
  };
  EXPECT_EQ(source_of_truth(), old_port());
  ASSERT_TRUE(wait_until(  // the sequence keeper's first pass
      [&] {
        return http(ports_[1], "GET", "/readiness").body.find("\"ready\":true") !=
               std::string::npos;
      },
      std::chrono::seconds(5)));
  ASSERT_EQ(http(ports_[1], "POST", "/phase", "{\"action\": \"promote\"}").status, 200);
  EXPECT_TRUE(
      all_within_a_second("\"phase\":\"promoted\",\"read_ramp_percent\":100,\"version\":2,"
                          "\"source_of_truth\":\"new\""));
  EXPECT_EQ(source_of_truth(), new_port());
  ASSERT_EQ(http(ports_[0], "POST", "/phase", "{\"action\": \"rollback\"}").status, 200);
  EXPECT_TRUE(
      all_within_a_second("\"phase\":\"rolled_back\",\"read_ramp_percent\":100,\"version\":3,"
                          "\"source_of_truth\":\"old\""));
  EXPECT_EQ(source_of_truth(), old_port());
  EXPECT_EQ(old_db().query("select count(*) from shared_promo"), "3");
  EXPECT_EQ(TwoClusters::new_db().query("select count(*) from shared_promo"), "3");
}

}  // namespace
}  // namespace cutover::testing
