// The command line users script against: exit codes 0/1/2, help, version, check-config.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "tests/harness/cutover_process.h"
#include "tests/harness/pg_cluster.h"
#include "tests/harness/util.h"
#include "tests/proxy/proxy_fixture.h"
#include "verify/journal.h"
#include "verify/journal_writer.h"

namespace cutover::testing {
namespace {

CommandResult cutover(const std::vector<std::string>& args) {
  std::vector<std::string> argv{CUTOVER_BINARY};
  argv.insert(argv.end(), args.begin(), args.end());
  return run_command(argv);
}

// One directory for the configs these tests write, removed when the test binary exits.
struct ConfigDir {
  std::filesystem::path path = make_temp_dir("cutover-cli-");
  ~ConfigDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path, ignored);
  }
};

std::string write_config(const std::string& yaml) {
  static ConfigDir dir;
  auto path = dir.path / ("config-" + std::to_string(std::hash<std::string>{}(yaml)) + ".yaml");
  std::ofstream(path) << yaml;
  return path.string();
}

TEST(CliTest, HelpAndVersion) {
  CommandResult help = cutover({"--help"});
  EXPECT_EQ(help.status, 0);
  EXPECT_NE(help.out.find("cutover run --config FILE"), std::string::npos);
  EXPECT_NE(help.out.find("check-config"), std::string::npos);
  CommandResult version = cutover({"--version"});
  EXPECT_EQ(version.status, 0);
  EXPECT_EQ(version.out.rfind("cutover ", 0), 0u);
}

TEST(CliTest, BadUsageExitsWith2) {
  EXPECT_EQ(cutover({}).status, 2);
  CommandResult unknown = cutover({"frobnicate"});
  EXPECT_EQ(unknown.status, 2);
  EXPECT_NE(unknown.err.find("unknown command 'frobnicate'"), std::string::npos);
  EXPECT_EQ(cutover({"run"}).status, 2);
  EXPECT_EQ(cutover({"check-config"}).status, 2);
}

TEST(CliTest, CheckConfigPrintsTheEffectiveConfig) {
  CommandResult ok = cutover(
      {"check-config", write_config(std::string("listen: { port: 7777 }\n") + kTrustLocal)});
  EXPECT_EQ(ok.status, 0) << ok.err;
  EXPECT_NE(ok.out.find("port: 7777"), std::string::npos);
  EXPECT_NE(ok.out.find("max_clients: 1000"), std::string::npos);
}

TEST(CliTest, CheckConfigNamesTheBadKeyAndLine) {
  CommandResult bad = cutover({"check-config", write_config("threads: 1\nlisten:\n  prot: 1\n")});
  EXPECT_EQ(bad.status, 1);
  EXPECT_EQ(bad.err, "cutover: config: line 3: listen.prot: unknown key\n");
  CommandResult missing = cutover({"check-config", "/nonexistent/cutover.yaml"});
  EXPECT_EQ(missing.status, 1);
  EXPECT_NE(missing.err.find("cannot read /nonexistent/cutover.yaml"), std::string::npos);
}

TEST(CliTest, CheckConfigReadsTheFilesTheConfigNames) {
  CommandResult missing =
      cutover({"check-config", write_config("auth: { users_file: /nonexistent/users.txt }\n")});
  EXPECT_EQ(missing.status, 1);
  EXPECT_EQ(missing.err, "cutover: config: auth.users_file: cannot read /nonexistent/users.txt\n");
  CommandResult no_cert =
      cutover({"check-config", write_config(std::string(kTrustLocal) +
                                            "tls: { mode: allow, cert_file: /nonexistent/c.pem, "
                                            "key_file: /nonexistent/k.pem }\n")});
  EXPECT_EQ(no_cert.status, 1);
  EXPECT_NE(no_cert.err.find("cutover: tls.cert_file /nonexistent/c.pem: "), std::string::npos)
      << no_cert.err;
}

TEST(CliTest, RunRefusesABadConfigBeforeListening) {
  CommandResult bad = cutover({"run", "--config", write_config("listen: { port: -1 }\n")});
  EXPECT_EQ(bad.status, 1);
  EXPECT_NE(bad.err.find("listen.port"), std::string::npos);
}

TEST(CliTest, RunReportsAnUnusableListenAddress) {
  uint16_t taken = free_port();
  CommandResult in_use;
  {
    // A second proxy on a port already listening says which address it could not take.
    std::string yaml = "listen: { port: " + std::to_string(taken) + " }\n" + kTrustLocal;
    std::string config = write_config(yaml);
    CutoverProcess first(CUTOVER_BINARY, yaml, taken);
    in_use = cutover({"run", "--config", config});
  }
  EXPECT_EQ(in_use.status, 1);
  EXPECT_NE(in_use.err.find("cannot listen on 127.0.0.1:" + std::to_string(taken) +
                            ": Address already in use"),
            std::string::npos)
      << in_use.err;
  CommandResult bad =
      cutover({"run", "--config",
               write_config(std::string("listen: { address: 256.1.1.1 }\n") + kTrustLocal)});
  EXPECT_EQ(bad.status, 1);
  EXPECT_NE(bad.err.find("cutover: cannot parse the listen address 256.1.1.1:6432"),
            std::string::npos)
      << bad.err;
}

// The verifier the tool prints is one PostgreSQL itself accepts: a role created with it logs in
// with the password, and not with another.
TEST(CliTest, JournalInspectListsRecordsAndFailsOnACorruptOne) {
  ConfigDir dir;
  const auto journal = dir.path / "journal";
  {
    verify::JournalWriter writer(journal, {});
    verify::JournalRecord r{.outcome = verify::JournalRecord::Outcome::kMayHaveApplied,
                            .connection_id = 7,
                            .fingerprint = 0xfeed,
                            .database = "app",
                            .user = "writer",
                            .unit = "update t set v = 1"};
    writer.append(r);
    r.outcome = verify::JournalRecord::Outcome::kDidNotApply;
    writer.commit(writer.append(r));
  }
  const std::string config =
      write_config(std::string(kTrustLocal) + "verify: { journal_dir: " + journal.string() +
                   ", mismatch_log: " + (dir.path / "m.jsonl").string() +
                   ", divergence_log: " + (dir.path / "d.jsonl").string() + " }\n");
  CommandResult ok = cutover({"journal", "--config", config, "inspect"});
  EXPECT_EQ(ok.status, 0) << ok.err;
  EXPECT_NE(ok.out.find("sequence=1 outcome=may_have_applied unix_ms=0 conn=7 "
                        "fingerprint=000000000000feed mirror_xid=0 intent=0 source_xid=0 "
                        "database=app user=writer "
                        "bytes=18"),
            std::string::npos)
      << ok.out;
  EXPECT_NE(ok.out.find("records=2 did_not_apply=1 may_have_applied=1 corrupt=0"),
            std::string::npos)
      << ok.out;
  // One byte of the first record's payload changes: that record is reported, never listed.
  const auto segment = std::filesystem::directory_iterator(journal)->path();
  {
    std::fstream file(segment, std::ios::in | std::ios::out | std::ios::binary);
    file.seekp(20);
    file.put('\x7f');
  }
  CommandResult corrupt = cutover({"journal", "--config", config, "inspect"});
  EXPECT_EQ(corrupt.status, 1);
  EXPECT_NE(corrupt.out.find("problem=corrupt segment=" + segment.string() + " offset=0"),
            std::string::npos)
      << corrupt.out;
  EXPECT_NE(corrupt.out.find("records=1 did_not_apply=1 may_have_applied=0 corrupt=1"),
            std::string::npos)
      << corrupt.out;
  EXPECT_EQ(cutover({"journal", "--config", config, "replay"}).status, 1);
  EXPECT_EQ(cutover({"journal", "inspect"}).status, 2);
}

TEST(CliTest, ScramVerifierIsAcceptedByPostgres) {
  CommandResult made = run_command({"bash", "-c",
                                    "printf '%s\\n' 's3cret!pw' | " + std::string(CUTOVER_BINARY) +
                                        " scram-verifier --iterations 4096"});
  ASSERT_EQ(made.status, 0) << made.err;
  ASSERT_EQ(made.out.rfind("SCRAM-SHA-256$4096:", 0), 0u) << made.out;
  std::string verifier = made.out.substr(0, made.out.size() - 1);

  PgCluster cluster({.name = "scram", .auth = "scram-sha-256", .conf = {}});
  cluster.query("create role verified login password '" + verifier + "'");
  EXPECT_EQ(cluster.query("select rolpassword from pg_authid where rolname = 'verified'"),
            verifier);
  Connection conn = connect(cluster.conninfo("postgres", "verified", "s3cret!pw"));
  EXPECT_EQ(conn.query_value("select current_user"), "verified");
  EXPECT_THROW(connect(cluster.conninfo("postgres", "verified", "wrong")), std::runtime_error);
}

TEST(CliTest, ScramVerifierRefusesWhatItCannotHash) {
  CommandResult empty =
      run_command({"bash", "-c", std::string(CUTOVER_BINARY) + " scram-verifier < /dev/null"});
  EXPECT_EQ(empty.status, 1);
  EXPECT_NE(empty.err.find("printable ASCII"), std::string::npos);
  EXPECT_EQ(cutover({"scram-verifier", "--iterations", "0"}).status, 2);
  EXPECT_EQ(cutover({"scram-verifier", "--rounds"}).status, 2);
}

}  // namespace
}  // namespace cutover::testing
