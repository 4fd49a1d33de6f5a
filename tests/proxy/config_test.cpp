// Configuration loading: defaults, every section, and errors that name the key and its line.
#include "proxy/config.h"

#include <gtest/gtest.h>

namespace cutover::proxy {
namespace {

std::string error_of(const std::string& yaml) {
  try {
    parse_config(yaml);
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "no error";
}

TEST(ConfigTest, EmptyDocumentGivesDefaults) {
  Config c = parse_config("");
  EXPECT_EQ(c.listen.address, "127.0.0.1");
  EXPECT_EQ(c.listen.port, 6432);
  EXPECT_EQ(c.listen.max_clients, 1000u);
  EXPECT_EQ(c.backends.old_db.port, 5432);
  EXPECT_EQ(c.backends.new_db.port, 5433);
  EXPECT_EQ(c.timeouts.client_idle.count(), 0);
  EXPECT_EQ(c.limits.max_message_bytes, 1u << 30);
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
)");
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

TEST(ConfigTest, SyntaxErrorNamesLine) {
  EXPECT_EQ(error_of("listen: {port: 1\nthreads: 2\n").rfind("config: line ", 0), 0u);
}

TEST(ConfigTest, EffectiveConfigRoundTrips) {
  Config c = parse_config("listen: { port: 7001 }\ntimeouts: { client_idle_ms: 5 }\n");
  Config again = parse_config(to_yaml(c));
  EXPECT_EQ(again.listen.port, 7001);
  EXPECT_EQ(again.timeouts.client_idle.count(), 5);
  EXPECT_EQ(to_yaml(again), to_yaml(c));
}

}  // namespace
}  // namespace cutover::proxy
