// The settings SIGHUP changes while sessions run (Server::reload_live_settings()): scalars,
// each read where it is used, without a lock. The rest of the configuration applies at the
// next start (sessions, pools and the journal are built from it).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "proxy/base/config.h"

namespace cutover::proxy {

class LiveSettings {
 public:
  explicit LiveSettings(const Config& config) { store(config); }

  struct Change {
    std::string key;
    std::string from;
    std::string to;
  };
  // What `fresh` changes of the settings in use, then in use from now on.
  std::vector<Change> apply(const Config& fresh);

  uint32_t shadow_reads() const { return shadow_reads_.load(std::memory_order_relaxed); }
  std::chrono::milliseconds fallback_timeout() const { return load(fallback_timeout_ms_); }
  std::chrono::milliseconds mirror_timeout() const { return load(mirror_timeout_ms_); }
  std::chrono::milliseconds switch_timeout() const { return load(switch_timeout_ms_); }

 private:
  static std::chrono::milliseconds load(const std::atomic<int64_t>& ms) {
    return std::chrono::milliseconds(ms.load(std::memory_order_relaxed));
  }
  void store(const Config& config);

  std::atomic<uint32_t> shadow_reads_{0};  // basis points
  std::atomic<int64_t> fallback_timeout_ms_{0};
  std::atomic<int64_t> mirror_timeout_ms_{0};
  std::atomic<int64_t> switch_timeout_ms_{0};
};

// `config` with the live settings (and the log level) of `from`: what is left to compare for
// settings that need a restart.
Config without_live_settings(Config config, const Config& from);

}  // namespace cutover::proxy
