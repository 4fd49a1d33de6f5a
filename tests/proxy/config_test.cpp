// Configuration loading: defaults, every section, and errors that name the key and its line.
#include "proxy/base/config.h"

#include <gtest/gtest.h>

namespace cutover::proxy {
namespace {

// The smallest auth section a valid configuration needs.
constexpr char kAuth[] = "auth: { users_file: users.txt }\n";

std::string error_of(const std::string& yaml) {
  try {
    parse_config(yaml);
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "no error";
}

TEST(ConfigTest, EmptyDocumentIsRefusedForWantOfAuthentication) {
  EXPECT_EQ(error_of(""),
            "config: auth: set users_file or auth_query (or method: trust with trust_addresses)");
}

TEST(ConfigTest, MinimalDocumentGivesDefaults) {
  Config c = parse_config(kAuth);
  EXPECT_EQ(c.auth.method, AuthMethod::kScram);
  EXPECT_EQ(c.tls.mode, TlsMode::kDisable);
  EXPECT_EQ(c.tls.min_version, "TLSv1.2");
  EXPECT_EQ(c.backends.old_db.sslmode, SslMode::kPrefer);
  EXPECT_EQ(c.backends.old_db.user, "");
  EXPECT_EQ(c.listen.address, "127.0.0.1");
  EXPECT_EQ(c.listen.port, 6432);
  EXPECT_EQ(c.listen.max_clients, 1000u);
  EXPECT_EQ(c.backends.old_db.port, 5432);
  EXPECT_EQ(c.backends.new_db.port, 5433);
  EXPECT_EQ(c.timeouts.client_idle.count(), 0);
  EXPECT_EQ(c.limits.max_message_bytes, 1u << 30);
  EXPECT_EQ(c.migration.mirror.unsafe_writes, UnsafeWrites::kRefuse);
}

TEST(ConfigTest, ReadsEverySection) {
  Config c = parse_config(R"(
listen: { address: 0.0.0.0, port: 7000, max_clients: 5 }
threads: 3
backends:
  old: { host: db-old.internal, port: 6000 }
  new: { host: db-new.internal, port: 6001 }
timeouts: { backend_connect_ms: 100, client_startup_ms: 200, client_idle_ms: 300, shutdown_ms: 400 }
limits: { max_message_bytes: 2048, buffer_bytes: 8192 }
log: { level: debug, format: text }
tls: { mode: require, cert_file: c.pem, key_file: k.pem, ca_file: ca.pem, min_version: TLSv1.3 }
auth: { method: md5, users_file: u.txt, trust_addresses: [10.0.0.0/8, "::1/128"] }
)");
  EXPECT_EQ(c.tls.mode, TlsMode::kRequire);
  EXPECT_EQ(c.tls.cert_file, "c.pem");
  EXPECT_EQ(c.tls.min_version, "TLSv1.3");
  EXPECT_EQ(c.auth.method, AuthMethod::kMd5);
  EXPECT_EQ(c.auth.trust_addresses, (std::vector<std::string>{"10.0.0.0/8", "::1/128"}));
  EXPECT_EQ(c.listen.address, "0.0.0.0");
  EXPECT_EQ(c.listen.port, 7000);
  EXPECT_EQ(c.listen.max_clients, 5u);
  EXPECT_EQ(c.threads, 3u);
  EXPECT_EQ(c.backends.old_db.host, "db-old.internal");
  EXPECT_EQ(c.backends.new_db.port, 6001);
  EXPECT_EQ(c.timeouts.backend_connect.count(), 100);
  EXPECT_EQ(c.timeouts.client_startup.count(), 200);
  EXPECT_EQ(c.timeouts.client_idle.count(), 300);
  EXPECT_EQ(c.timeouts.shutdown.count(), 400);
  EXPECT_EQ(c.limits.max_message_bytes, 2048u);
  EXPECT_EQ(c.limits.buffer_bytes, 8192u);
  EXPECT_EQ(c.log.level, "debug");
  EXPECT_EQ(c.log.format, LogFormat::kKeyValue);
}

TEST(ConfigTest, UnknownKeyNamesKeyAndLine) {
  EXPECT_EQ(error_of("listen:\n  port: 6432\n  prot: 1\n"),
            "config: line 3: listen.prot: unknown key");
  EXPECT_EQ(error_of("threads: 1\nbogus: true\n"), "config: line 2: bogus: unknown key");
  EXPECT_EQ(error_of("backends:\n  old:\n    hots: x\n"),
            "config: line 3: backends.old.hots: unknown key");
}

TEST(ConfigTest, BadValueNamesKeyAndLine) {
  EXPECT_EQ(error_of("listen:\n  port: 70000\n"),
            "config: line 2: listen.port: expected an integer in 0..65535, got '70000'");
  EXPECT_EQ(error_of("threads: many\n"),
            "config: line 1: threads: expected an integer in 0..256, got 'many'");
  EXPECT_EQ(error_of("log:\n  level: loud\n"),
            "config: line 2: log.level: expected one of debug, error, info, warn, got 'loud'");
  EXPECT_EQ(error_of("listen: 5\n"), "config: line 1: listen: expected a mapping");
  EXPECT_EQ(error_of("backends:\n  new:\n    host: ''\n"),
            "config: line 3: backends.new.host: expected a host name or address");
}

TEST(ConfigTest, TlsAndAuthSettingsThatDoNotFitAreRefused) {
  EXPECT_EQ(error_of(std::string(kAuth) + "tls:\n  mode: require\n  key_file: k\n"),
            "config: tls.cert_file: required when tls.mode is not disable");
  EXPECT_EQ(error_of(std::string(kAuth) + "tls:\n  mode: sometimes\n"),
            "config: line 3: tls.mode: expected one of disable, allow, require, got 'sometimes'");
  EXPECT_EQ(error_of("auth:\n  method: trust\n"),
            "config: auth.trust_addresses: required when auth.method is trust (trust is never "
            "global)");
  EXPECT_EQ(error_of("auth:\n  method: trust\n  trust_addresses: [10.0.0.300/8]\n"),
            "config: line 3: auth.trust_addresses: '10.0.0.300/8' is not an address/prefix like "
            "10.0.0.0/8");
  EXPECT_EQ(error_of("auth:\n  method: passthrough\n  users_file: u\nbackends:\n  old:\n"
                     "    user: app\n"),
            "config: line 6: backends.old: auth.method passthrough logs in as the client's user: "
            "leave user empty");
  EXPECT_EQ(error_of("auth:\n  auth_query: select 1\n"),
            "config: line 2: auth: auth_query needs auth.query_user (or backends.old.user) to run "
            "as");
  EXPECT_EQ(error_of(std::string(kAuth) + "backends:\n  old:\n    sslmode: allow\n"),
            "config: line 4: backends.old.sslmode: expected one of disable, prefer, require, "
            "verify-ca, verify-full, got 'allow'");
}

TEST(ConfigTest, MigrationSectionReadsRampInBasisPointsAndOverrides) {
  Config c = parse_config(std::string(kAuth) + R"(
migration:
  phase: dual_write
  read_ramp_percent: 12.34
  sticky_key: application_name
  read_your_writes_ms: 0
  shadow_reads_percent: 0.5
  mirror: { timeout_ms: 700, handover_timeout_ms: 900, sequence_margin: 50, sequence_sync_ms: 0, unsafe_writes: allow }
  fallback: { timeout_ms: 250, sqlstates: ["08*", 42P01], error_rate: 0.25, cooldown_s: 5, budget_per_second: 7 }
  overrides:
    - { table: payments, reads: old }
    - { user: reporting, reads: old }
  safe_functions: [app.price]
)");
  EXPECT_EQ(c.migration.phase, router::Phase::kDualWrite);
  EXPECT_EQ(c.migration.read_ramp, 1234u);
  EXPECT_EQ(c.migration.sticky_key, StickyKey::kApplicationName);
  EXPECT_EQ(c.migration.read_your_writes.count(), 0);
  EXPECT_EQ(c.migration.shadow_reads, 50u);
  EXPECT_EQ(c.migration.mirror.timeout.count(), 700);
  EXPECT_EQ(c.migration.mirror.handover_timeout.count(), 900);
  EXPECT_EQ(c.migration.mirror.sequence_margin, 50);
  EXPECT_EQ(c.migration.mirror.sequence_sync.count(), 0);
  EXPECT_EQ(c.migration.mirror.unsafe_writes, UnsafeWrites::kAllow);
  EXPECT_EQ(c.migration.fallback.timeout.count(), 250);
  EXPECT_EQ(c.migration.fallback.sqlstates, (std::vector<std::string>{"08*", "42P01"}));
  EXPECT_EQ(c.migration.fallback.error_rate, 0.25);
  EXPECT_EQ(c.migration.fallback.cooldown.count(), 5);
  EXPECT_EQ(c.migration.fallback.budget_per_second, 7u);
  ASSERT_EQ(c.migration.overrides.size(), 2u);
  EXPECT_EQ(c.migration.overrides[0].table, "payments");
  EXPECT_EQ(c.migration.overrides[1].user, "reporting");
  EXPECT_EQ(c.migration.safe_functions, (std::vector<std::string>{"app.price"}));
  Config again = parse_config(to_yaml(c));
  EXPECT_EQ(again.migration.read_ramp, 1234u);
  EXPECT_EQ(to_yaml(again), to_yaml(c));
  EXPECT_NE(to_yaml(c).find("read_ramp_percent: 12.34"), std::string::npos);
  EXPECT_NE(to_yaml(c).find("shadow_reads_percent: 0.5\n"), std::string::npos) << to_yaml(c);
  EXPECT_EQ(parse_config(std::string(kAuth) + "migration: { read_ramp_percent: 0.05 }\n")
                .migration.read_ramp,
            5u);
}

TEST(ConfigTest, MigrationMistakesAreNamed) {
  EXPECT_EQ(error_of(std::string(kAuth) + "migration:\n  read_ramp_percent: 12.345\n"),
            "config: line 3: migration.read_ramp_percent: percentages go in steps of 0.01 %, got "
            "'12.345'");
  EXPECT_EQ(error_of(std::string(kAuth) + "migration:\n  read_ramp_percent: 101\n"),
            "config: line 3: migration.read_ramp_percent: expected a percentage in 0..100, got "
            "'101'");
  EXPECT_EQ(error_of(std::string(kAuth) + "migration:\n  phase: cutover\n"),
            "config: line 3: migration.phase: expected one of passthrough, dual_write, promoted, "
            "rolled_back, decommissioned, got 'cutover'");
  EXPECT_EQ(error_of(std::string(kAuth) + "migration:\n  mirror: { unsafe_writes: warn }\n"),
            "config: line 3: migration.mirror.unsafe_writes: expected one of refuse, allow, got "
            "'warn'");
  EXPECT_EQ(error_of(std::string(kAuth) + "migration:\n  fallback: { error_rate: 0 }\n"),
            "config: line 3: migration.fallback.error_rate: expected a share in (0, 1], got '0'");
  EXPECT_EQ(error_of(std::string(kAuth) + "control:\n  switch_timeout_ms: 0\n"),
            "config: line 3: control.switch_timeout_ms: expected an integer in 1..3600000, got "
            "'0'");
  EXPECT_EQ(error_of(std::string(kAuth) + "migration:\n  fallback: { sqlstates: [8*] }\n"),
            "config: line 3: migration.fallback.sqlstates: '8*' is not a SQLSTATE (57P01) or "
            "class (08*)");
  EXPECT_EQ(error_of(std::string(kAuth) +
                     "migration:\n  overrides:\n    - { table: t, user: u, reads: old }\n"),
            "config: line 4: migration.overrides: each override names exactly one of table and "
            "user");
  EXPECT_EQ(
      error_of(std::string(kAuth) + "migration:\n  overrides:\n    - { table: t, reads: new }\n"),
      "config: line 4: migration.overrides.reads: expected one of old, got 'new'");
}

TEST(ConfigTest, AdminAndControlSections) {
  Config defaults = parse_config(kAuth);
  EXPECT_EQ(defaults.admin.address, "127.0.0.1");
  EXPECT_EQ(defaults.admin.port, 9187);
  EXPECT_EQ(defaults.admin.token_file, "");
  EXPECT_EQ(defaults.admin.audit_log, "./cutover-data/audit.jsonl");
  EXPECT_EQ(defaults.control.store, "file:./cutover-data/state.json");
  EXPECT_EQ(defaults.control.promotion_window.count(), 600);
  EXPECT_EQ(defaults.control.switch_timeout.count(), 5000);
  Config c = parse_config(std::string(kAuth) +
                          "admin: { address: 0.0.0.0, port: 0, token_file: t, audit_log: a }\n"
                          "control: { store: \"file:/var/lib/cutover/state.json\", "
                          "promotion_window_s: 30, switch_timeout_ms: 250 }\n");
  EXPECT_EQ(c.admin.port, 0);
  EXPECT_EQ(c.admin.token_file, "t");
  EXPECT_EQ(c.control.store, "file:/var/lib/cutover/state.json");
  EXPECT_EQ(c.control.promotion_window.count(), 30);
  Config again = parse_config(to_yaml(c));
  EXPECT_EQ(again.admin.audit_log, "a");
  EXPECT_EQ(again.control.promotion_window.count(), 30);
  EXPECT_EQ(again.control.switch_timeout.count(), 250);
  EXPECT_EQ(parse_config(std::string(kAuth) + "control: { store: postgresql://db/control }\n")
                .control.store,
            "postgresql://db/control");
  EXPECT_EQ(error_of(std::string(kAuth) + "control:\n  store: /var/lib/state.json\n"),
            "config: line 3: control.store: expected file:PATH or a postgresql:// connection URI");
  EXPECT_EQ(error_of(std::string(kAuth) + "admin:\n  port: 70000\n"),
            "config: line 3: admin.port: expected an integer in 0..65535, got '70000'");
}

TEST(ConfigTest, SyntaxErrorNamesLine) {
  EXPECT_EQ(error_of("listen: {port: 1\nthreads: 2\n").rfind("config: line ", 0), 0u);
}

TEST(ConfigTest, EffectiveConfigRoundTrips) {
  Config c = parse_config(std::string("listen: { port: 7001 }\ntimeouts: { client_idle_ms: 5 }\n") +
                          kAuth +
                          "backends: { new: { user: app, sslmode: verify-full, sslrootcert: ca "
                          "} }\n");
  Config again = parse_config(to_yaml(c));
  EXPECT_EQ(again.listen.port, 7001);
  EXPECT_EQ(again.timeouts.client_idle.count(), 5);
  EXPECT_EQ(again.backends.new_db.sslmode, SslMode::kVerifyFull);
  EXPECT_EQ(again.backends.new_db.sslrootcert, "ca");
  EXPECT_EQ(again.auth.users_file, "users.txt");
  EXPECT_EQ(to_yaml(again), to_yaml(c));
}

}  // namespace
}  // namespace cutover::proxy
