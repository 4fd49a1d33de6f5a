// The effective configuration written back as YAML (config.h's to_yaml()).
#include <yaml-cpp/yaml.h>

#include "proxy/base/config.h"  // to_yaml()
#include "proxy/base/config_names.h"
#include "router/policy.h"

namespace cutover::proxy {

using namespace config_names;

std::string to_yaml(const Config& c) {
  YAML::Emitter out;
  out.SetDoublePrecision(6);
  auto key = [&](const char* name) -> YAML::Emitter& {
    return out << YAML::Key << name << YAML::Value;
  };
  auto backend = [&](const char* name, const BackendConfig& b) {
    key(name) << YAML::BeginMap;
    key("host") << b.host;
    key("port") << b.port;
    key("database") << b.database;
    key("user") << b.user;
    key("password_file") << b.password_file;
    key("sslmode") << name_of(b.sslmode, ssl_mode_names);
    key("sslrootcert") << b.sslrootcert;
    key("sslservername") << b.sslservername << YAML::EndMap;
  };
  out << YAML::BeginMap;
  key("listen") << YAML::Flow << YAML::BeginMap;
  key("address") << c.listen.address;
  key("port") << c.listen.port;
  key("max_clients") << c.listen.max_clients << YAML::EndMap;
  key("threads") << c.threads;
  key("tls") << YAML::BeginMap;
  key("mode") << name_of(c.tls.mode, tls_mode_names);
  key("cert_file") << c.tls.cert_file;
  key("key_file") << c.tls.key_file;
  key("ca_file") << c.tls.ca_file;
  key("min_version") << c.tls.min_version;
  key("ciphers") << c.tls.ciphers << YAML::EndMap;
  key("auth") << YAML::BeginMap;
  key("method") << name_of(c.auth.method, auth_method_names);
  key("users_file") << c.auth.users_file;
  key("auth_query") << c.auth.auth_query;
  key("trust_addresses") << YAML::Flow << c.auth.trust_addresses;
  key("query_user") << c.auth.query_user;
  key("query_password_file") << c.auth.query_password_file << YAML::EndMap;
  key("backends") << YAML::BeginMap;
  backend("old", c.backends.old_db);
  backend("new", c.backends.new_db);
  out << YAML::EndMap;
  key("migration") << YAML::BeginMap;
  key("phase") << std::string(router::to_string(c.migration.phase));
  key("read_ramp_percent") << router::percent_text(c.migration.read_ramp);
  key("shadow_reads_percent") << router::percent_text(c.migration.shadow_reads);
  key("sticky_key") << name_of(c.migration.sticky_key, sticky_key_names);
  key("read_your_writes_ms") << c.migration.read_your_writes.count();
  key("fallback") << YAML::BeginMap;
  key("timeout_ms") << c.migration.fallback.timeout.count();
  key("sqlstates") << YAML::Flow << c.migration.fallback.sqlstates;
  key("error_rate") << c.migration.fallback.error_rate;
  key("cooldown_s") << c.migration.fallback.cooldown.count();
  key("budget_per_second") << c.migration.fallback.budget_per_second << YAML::EndMap;
  key("mirror") << YAML::BeginMap;
  key("ordering") << name_of(c.migration.mirror.ordering, mirror_ordering_names);
  key("unsafe_writes") << name_of(c.migration.mirror.unsafe_writes, unsafe_writes_names);
  key("compare") << name_of(c.migration.mirror.compare, mirror_compare_names);
  key("timeout_ms") << c.migration.mirror.timeout.count();
  key("handover_timeout_ms") << c.migration.mirror.handover_timeout.count();
  key("sequence_margin") << c.migration.mirror.sequence_margin;
  key("sequence_sync_ms") << c.migration.mirror.sequence_sync.count() << YAML::EndMap;
  key("overrides") << YAML::BeginSeq;
  for (const auto& o : c.migration.overrides) {
    out << YAML::Flow << YAML::BeginMap;
    key(o.table.empty() ? "user" : "table") << (o.table.empty() ? o.user : o.table);
    key("reads") << "old" << YAML::EndMap;
  }
  out << YAML::EndSeq;
  key("safe_functions") << YAML::Flow << c.migration.safe_functions << YAML::EndMap;
  key("timeouts") << YAML::BeginMap;
  key("backend_connect_ms") << c.timeouts.backend_connect.count();
  key("client_startup_ms") << c.timeouts.client_startup.count();
  key("client_idle_ms") << c.timeouts.client_idle.count();
  key("shutdown_ms") << c.timeouts.shutdown.count() << YAML::EndMap;
  key("limits") << YAML::BeginMap;
  key("max_message_bytes") << c.limits.max_message_bytes;
  key("buffer_bytes") << c.limits.buffer_bytes;
  key("batch_hold_ms") << c.limits.batch_hold.count();
  key("batch_hold_bytes") << c.limits.batch_hold_bytes << YAML::EndMap;
  key("verify") << YAML::BeginMap;
  key("journal_dir") << c.verify.journal_dir;
  key("mismatch_log") << c.verify.mismatch_log;
  key("divergence_log") << c.verify.divergence_log;
  key("checksum") << YAML::Flow << YAML::BeginMap;
  key("range_rows") << c.verify.checksum.range_rows;
  key("range_ms") << c.verify.checksum.range_time.count();
  key("max_load_percent") << c.verify.checksum.max_load_percent << YAML::EndMap;
  key("tables") << YAML::Flow << c.verify.tables;
  key("user") << c.verify.user;
  key("database") << c.verify.database << YAML::EndMap;
  key("admin") << YAML::BeginMap;
  key("address") << c.admin.address;
  key("port") << c.admin.port;
  key("token_file") << c.admin.token_file;
  key("audit_log") << c.admin.audit_log << YAML::EndMap;
  key("control") << YAML::BeginMap;
  key("store") << c.control.store;
  key("promotion_window_s") << c.control.promotion_window.count();
  key("switch_timeout_ms") << c.control.switch_timeout.count() << YAML::EndMap;
  key("log") << YAML::BeginMap;
  key("level") << c.log.level;
  key("format") << (c.log.format == LogFormat::kJson ? "json" : "text") << YAML::EndMap;
  out << YAML::EndMap;
  return std::string(out.c_str()) + "\n";
}

std::string ssl_mode_name(SslMode mode) { return name_of(mode, ssl_mode_names); }

}  // namespace cutover::proxy
