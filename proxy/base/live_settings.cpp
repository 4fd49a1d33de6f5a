#include "proxy/base/live_settings.h"

#include "router/policy.h"

namespace cutover::proxy {

void LiveSettings::store(const Config& config) {
  shadow_reads_.store(config.migration.shadow_reads);
  fallback_timeout_ms_.store(config.migration.fallback.timeout.count());
  mirror_timeout_ms_.store(config.migration.mirror.timeout.count());
  switch_timeout_ms_.store(config.control.switch_timeout.count());
}

std::vector<LiveSettings::Change> LiveSettings::apply(const Config& fresh) {
  std::vector<Change> changes;
  auto compare = [&](const char* key, int64_t now, int64_t next) {
    if (now != next) changes.push_back({key, std::to_string(now), std::to_string(next)});
  };
  if (shadow_reads() != fresh.migration.shadow_reads) {
    changes.push_back({"migration.shadow_reads_percent", router::percent_text(shadow_reads()),
                       router::percent_text(fresh.migration.shadow_reads)});
  }
  compare("migration.fallback.timeout_ms", fallback_timeout().count(),
          fresh.migration.fallback.timeout.count());
  compare("migration.mirror.timeout_ms", mirror_timeout().count(),
          fresh.migration.mirror.timeout.count());
  compare("control.switch_timeout_ms", switch_timeout().count(),
          fresh.control.switch_timeout.count());
  store(fresh);
  return changes;
}

Config without_live_settings(Config config, const Config& from) {
  config.migration.shadow_reads = from.migration.shadow_reads;
  config.migration.fallback.timeout = from.migration.fallback.timeout;
  config.migration.mirror.timeout = from.migration.mirror.timeout;
  config.control.switch_timeout = from.control.switch_timeout;
  config.log.level = from.log.level;
  return config;
}

}  // namespace cutover::proxy
