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

#include "proxy/base/config_names.h"
#include "proxy/base/yaml_section.h"
#include "router/policy.h"

namespace cutover::proxy {
namespace {

using yaml::fail;
using yaml::Section;
using namespace config_names;

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
    s.section("checksum", [&](Section& k) {
      k.integer("range_rows", c.verify.checksum.range_rows, 100, 100'000'000);
      k.millis("range_ms", c.verify.checksum.range_time);
      k.integer("max_load_percent", c.verify.checksum.max_load_percent, 1, 100);
    });
    s.strings("tables", c.verify.tables);
    s.string("user", c.verify.user);
    s.string("database", c.verify.database);
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

}  // namespace cutover::proxy
