#include "proxy/base/config.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <boost/asio/ip/network_v4.hpp>
#include <boost/asio/ip/network_v6.hpp>
#include <cmath>
#include <fstream>
#include <functional>
#include <limits>
#include <set>
#include <sstream>

#include "proxy/base/yaml_section.h"
#include "router/policy.h"

namespace cutover::proxy {
namespace {

using yaml::fail;
using yaml::Section;

const std::vector<std::pair<std::string, SslMode>> ssl_mode_names = {
    {"disable", SslMode::kDisable},
    {"prefer", SslMode::kPrefer},
    {"require", SslMode::kRequire},
    {"verify-ca", SslMode::kVerifyCa},
    {"verify-full", SslMode::kVerifyFull}};
const std::vector<std::pair<std::string, TlsMode>> tls_mode_names = {
    {"disable", TlsMode::kDisable}, {"allow", TlsMode::kAllow}, {"require", TlsMode::kRequire}};
const std::vector<std::pair<std::string, AuthMethod>> auth_method_names = {
    {"scram-sha-256", AuthMethod::kScram},
    {"md5", AuthMethod::kMd5},
    {"trust", AuthMethod::kTrust},
    {"passthrough", AuthMethod::kPassthrough}};

template <typename E>
std::string name_of(E value, const std::vector<std::pair<std::string, E>>& names) {
  for (const auto& [name, v] : names) {
    if (v == value) return name;
  }
  return "?";
}

void read_backend(Section& s, BackendConfig& b) {
  s.with("host", [&](const YAML::Node& n, const std::string& p) {
    if (!n.IsScalar() || n.Scalar().empty()) fail(n, p, "expected a host name or address");
    b.host = n.Scalar();
  });
  s.integer("port", b.port, 1, 65535);
  s.string("database", b.database);
  s.string("user", b.user);
  s.string("password_file", b.password_file);
  s.enumeration("sslmode", b.sslmode, ssl_mode_names);
  s.string("sslrootcert", b.sslrootcert);
  s.string("sslservername", b.sslservername);
}

void read_tls(Section& s, TlsConfig& t) {
  s.enumeration("mode", t.mode, tls_mode_names);
  s.string("cert_file", t.cert_file);
  s.string("key_file", t.key_file);
  s.string("ca_file", t.ca_file);
  s.choice("min_version", t.min_version, {"TLSv1.2", "TLSv1.3"});
  s.string("ciphers", t.ciphers);
  if (t.mode != TlsMode::kDisable && (t.cert_file.empty() || t.key_file.empty())) {
    s.reject(t.cert_file.empty() ? "cert_file" : "key_file",
             "required when tls.mode is not disable");
  }
}

const std::vector<std::pair<std::string, MirrorOrdering>> mirror_ordering_names = {
    {"strict", MirrorOrdering::kStrict}, {"parallel", MirrorOrdering::kParallel}};
const std::vector<std::pair<std::string, MirrorCompare>> mirror_compare_names = {
    {"effects", MirrorCompare::kEffects}, {"answers", MirrorCompare::kAnswers}};
const std::vector<std::pair<std::string, UnsafeWrites>> unsafe_writes_names = {
    {"refuse", UnsafeWrites::kRefuse}, {"allow", UnsafeWrites::kAllow}};

const std::vector<std::pair<std::string, StickyKey>> sticky_key_names = {
    {"session", StickyKey::kSession},
    {"user", StickyKey::kUser},
    {"database", StickyKey::kDatabase},
    {"application_name", StickyKey::kApplicationName},
    {"client_address", StickyKey::kClientAddress}};

std::vector<std::pair<std::string, router::Phase>> phase_names() {
  std::vector<std::pair<std::string, router::Phase>> names;
  for (auto phase :
       {router::Phase::kPassthrough, router::Phase::kDualWrite, router::Phase::kPromoted,
        router::Phase::kRolledBack, router::Phase::kDecommissioned}) {
    names.emplace_back(std::string(router::to_string(phase)), phase);
  }
  return names;
}

// "12.34" (percent, 0.01 % steps) -> 1234 basis points.
void percent_key(Section& s, const std::string& key, uint32_t& out) {
  s.with(key, [&](const YAML::Node& n, const std::string& p) {
    double percent = -1;
    if (!n.IsScalar() || !YAML::convert<double>::decode(n, percent) || !(percent >= 0) ||
        percent > 100) {
      fail(n, p, "expected a percentage in 0..100, got '" + (n.IsScalar() ? n.Scalar() : "") + "'");
    }
    double basis_points = percent * 100;
    if (std::abs(basis_points - std::round(basis_points)) > 1e-6) {
      fail(n, p, "percentages go in steps of 0.01 %, got '" + n.Scalar() + "'");
    }
    out = static_cast<uint32_t>(std::lround(basis_points));
  });
}

bool valid_sqlstate_pattern(const std::string& p) {
  auto alnum = [](char c) { return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z'); };
  if (p.size() == 3 && p[2] == '*') return alnum(p[0]) && alnum(p[1]);
  return p.size() == 5 && std::all_of(p.begin(), p.end(), alnum);
}

void read_migration(Section& s, MigrationConfig& m) {
  s.enumeration("phase", m.phase, phase_names());
  percent_key(s, "read_ramp_percent", m.read_ramp);
  percent_key(s, "shadow_reads_percent", m.shadow_reads);
  s.enumeration("sticky_key", m.sticky_key, sticky_key_names);
  s.millis("read_your_writes_ms", m.read_your_writes, 0);
  s.section("fallback", [&](Section& f) {
    f.millis("timeout_ms", m.fallback.timeout);
    f.strings("sqlstates", m.fallback.sqlstates);
    f.with("error_rate", [&](const YAML::Node& n, const std::string& p) {
      double rate = -1;
      if (!n.IsScalar() || !YAML::convert<double>::decode(n, rate) || !(rate > 0) || rate > 1) {
        fail(n, p, "expected a share in (0, 1], got '" + (n.IsScalar() ? n.Scalar() : "") + "'");
      }
      m.fallback.error_rate = rate;
    });
    int64_t cooldown = m.fallback.cooldown.count();
    f.integer("cooldown_s", cooldown, 1, 86400);
    m.fallback.cooldown = std::chrono::seconds(cooldown);
    f.integer("budget_per_second", m.fallback.budget_per_second, 1, 1'000'000);
    for (const auto& pattern : m.fallback.sqlstates) {
      if (!valid_sqlstate_pattern(pattern)) {
        f.reject("sqlstates", "'" + pattern + "' is not a SQLSTATE (57P01) or class (08*)");
      }
    }
  });
  s.section("mirror", [&](Section& mirror) {
    mirror.enumeration("ordering", m.mirror.ordering, mirror_ordering_names);
    mirror.enumeration("unsafe_writes", m.mirror.unsafe_writes, unsafe_writes_names);
    mirror.enumeration("compare", m.mirror.compare, mirror_compare_names);
    mirror.millis("timeout_ms", m.mirror.timeout);
    mirror.millis("handover_timeout_ms", m.mirror.handover_timeout);
    mirror.integer("sequence_margin", m.mirror.sequence_margin, 1, int64_t{1} << 40);
    mirror.millis("sequence_sync_ms", m.mirror.sequence_sync, 0);
  });
  s.with("overrides", [&](const YAML::Node& n, const std::string& p) {
    if (!n.IsSequence())
      fail(n, p, "expected a list of { table: T, reads: old } or { user: U, reads: old }");
    m.overrides.clear();
    for (const auto& item : n) {
      Section entry(item, p);
      ReadOverride override_entry;
      std::string reads = "old";
      entry.string("table", override_entry.table);
      entry.string("user", override_entry.user);
      entry.choice("reads", reads, {"old"});
      entry.finish();
      if (override_entry.table.empty() == override_entry.user.empty()) {
        fail(item, p, "each override names exactly one of table and user");
      }
      m.overrides.push_back(std::move(override_entry));
    }
  });
  s.strings("safe_functions", m.safe_functions);
}

bool valid_network(const std::string& text) {
  boost::system::error_code ec;
  if (text.find(':') != std::string::npos) {
    (void)boost::asio::ip::make_network_v6(text, ec);
  } else {
    (void)boost::asio::ip::make_network_v4(text, ec);
  }
  return !ec;
}

void read_auth(Section& s, AuthConfig& a) {
  s.enumeration("method", a.method, auth_method_names);
  s.string("users_file", a.users_file);
  s.string("auth_query", a.auth_query);
  s.strings("trust_addresses", a.trust_addresses);
  s.string("query_user", a.query_user);
  s.string("query_password_file", a.query_password_file);
  for (const auto& network : a.trust_addresses) {
    if (!valid_network(network)) {
      s.reject("trust_addresses", "'" + network + "' is not an address/prefix like 10.0.0.0/8");
    }
  }
  if (a.method == AuthMethod::kTrust && a.trust_addresses.empty()) {
    s.reject("trust_addresses", "required when auth.method is trust (trust is never global)");
  }
}

void read_config(Section& root, Config& c) {
  root.section("listen", [&](Section& s) {
    s.string("address", c.listen.address);
    s.integer("port", c.listen.port, 0, 65535);
    s.integer("max_clients", c.listen.max_clients, 1, 1'000'000);
  });
  root.integer("threads", c.threads, 0, 256);
  root.section("tls", [&](Section& s) { read_tls(s, c.tls); });
  root.section("auth", [&](Section& s) { read_auth(s, c.auth); });
  root.section("backends", [&](Section& s) {
    s.section("old", [&](Section& b) { read_backend(b, c.backends.old_db); });
    s.section("new", [&](Section& b) { read_backend(b, c.backends.new_db); });
    if (c.auth.method == AuthMethod::kPassthrough &&
        !(c.backends.old_db.user.empty() && c.backends.new_db.user.empty())) {
      s.reject(c.backends.old_db.user.empty() ? "new" : "old",
               "auth.method passthrough logs in as the client's user: leave user empty");
    }
  });
  root.section("migration", [&](Section& s) { read_migration(s, c.migration); });
  root.section("timeouts", [&](Section& s) {
    s.millis("backend_connect_ms", c.timeouts.backend_connect);
    s.millis("client_startup_ms", c.timeouts.client_startup);
    s.millis("client_idle_ms", c.timeouts.client_idle, 0);  // 0 = never
    s.millis("shutdown_ms", c.timeouts.shutdown, 0);        // 0 = end sessions at once
  });
  root.section("limits", [&](Section& s) {
    s.integer("max_message_bytes", c.limits.max_message_bytes, 1024, (int64_t{1} << 30));
    s.integer("buffer_bytes", c.limits.buffer_bytes, 4096, 16 << 20);
    s.millis("batch_hold_ms", c.limits.batch_hold, 0);
    s.integer("batch_hold_bytes", c.limits.batch_hold_bytes, 0, 64 << 20);
  });
  root.section("verify", [&](Section& s) {
    s.string("journal_dir", c.verify.journal_dir);
    s.string("mismatch_log", c.verify.mismatch_log);
    s.string("divergence_log", c.verify.divergence_log);
  });
  root.section("admin", [&](Section& s) {
    s.string("address", c.admin.address);
    s.integer("port", c.admin.port, 0, 65535);
    s.string("token_file", c.admin.token_file);
    s.string("audit_log", c.admin.audit_log);
  });
  root.section("control", [&](Section& s) {
    s.string("store", c.control.store);
    const std::string& store = c.control.store;
    if (!(store.starts_with("file:") && store.size() > 5) && !store.starts_with("postgresql://") &&
        !store.starts_with("postgres://")) {
      s.reject("store", "expected file:PATH or a postgresql:// connection URI");
    }
    int64_t window = c.control.promotion_window.count();
    s.integer("promotion_window_s", window, 0, int64_t{30} * 86400);
    c.control.promotion_window = std::chrono::seconds(window);
    int64_t switch_ms = c.control.switch_timeout.count();
    s.integer("switch_timeout_ms", switch_ms, 1, int64_t{3600} * 1000);
    c.control.switch_timeout = std::chrono::milliseconds(switch_ms);
  });
  root.section("log", [&](Section& s) {
    s.choice("level", c.log.level, {"debug", "info", "warn", "error"});
    std::string format = c.log.format == LogFormat::kJson ? "json" : "text";
    s.choice("format", format, {"json", "text"});
    c.log.format = format == "json" ? LogFormat::kJson : LogFormat::kKeyValue;
  });
}

// Settings that are valid one by one but not together; after unknown keys are reported.
void check_combinations(const Section& root, const Config& c) {
  if (!c.auth.auth_query.empty() && c.auth.query_user.empty() && c.backends.old_db.user.empty()) {
    root.reject("auth", "auth_query needs auth.query_user (or backends.old.user) to run as");
  }
  // Checked even when the auth section is missing: clients must be authenticated somehow.
  if (c.auth.method != AuthMethod::kTrust && c.auth.users_file.empty() &&
      c.auth.auth_query.empty()) {
    root.reject("auth", "set users_file or auth_query (or method: trust with trust_addresses)");
  }
}

}  // namespace

Config parse_config(const std::string& yaml_text) {
  YAML::Node doc;
  try {
    doc = YAML::Load(yaml_text);
  } catch (const YAML::Exception& e) {
    throw ConfigError("config: line " + std::to_string(e.mark.line + 1) + ": " + e.msg);
  }
  Config config;
  Section root(doc, "");
  read_config(root, config);
  root.finish();
  check_combinations(root, config);
  return config;
}

Config load_config_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw ConfigError("config: cannot read " + path);
  std::stringstream text;
  text << in.rdbuf();
  return parse_config(text.str());
}

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
  key("divergence_log") << c.verify.divergence_log << YAML::EndMap;
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

}  // namespace cutover::proxy
