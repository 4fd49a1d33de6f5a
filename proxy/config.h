// cutover's configuration: the typed settings and their loading from YAML.
// Not the live state (phase, ramp) an operator changes at run time.
#pragma once

#include <chrono>
#include <cstdint>
#include <stdexcept>
#include <string>

namespace cutover::proxy {

struct ListenConfig {
  std::string address = "127.0.0.1";
  uint16_t port = 6432;
  uint32_t max_clients = 1000;
};

struct BackendConfig {
  std::string host = "127.0.0.1";
  uint16_t port = 5432;
};

struct BackendsConfig {
  BackendConfig old_db;
  BackendConfig new_db{"127.0.0.1", 5433};
};

struct TimeoutsConfig {
  std::chrono::milliseconds backend_connect{5000};  // TCP connect to a database
  std::chrono::milliseconds client_startup{10000};  // client's startup and authentication
  std::chrono::milliseconds client_idle{0};         // no query in flight; 0 = never
  std::chrono::milliseconds shutdown{30000};        // SIGTERM drain deadline
};

struct LimitsConfig {
  // PostgreSQL itself accepts messages up to 1 GiB; a lower limit protects the proxy from
  // clients that announce huge messages.
  uint32_t max_message_bytes = 1u << 30;
  uint32_t buffer_bytes = 64 * 1024;  // per direction and session: the backpressure window
};

enum class LogFormat { kJson, kKeyValue };

struct LogConfig {
  std::string level = "info";  // debug | info | warn | error
  LogFormat format = LogFormat::kJson;
};

struct Config {
  ListenConfig listen;
  unsigned threads = 0;  // 0 = one per core
  BackendsConfig backends;
  TimeoutsConfig timeouts;
  LimitsConfig limits;
  LogConfig log;
};

// A configuration problem, with the YAML key path and line in its message.
class ConfigError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Parses YAML text; unknown keys and bad values throw ConfigError naming the key and line.
Config parse_config(const std::string& yaml_text);
Config load_config_file(const std::string& path);

// The effective configuration, as YAML that parse_config accepts.
std::string to_yaml(const Config& config);

}  // namespace cutover::proxy
