#include "proxy/config.h"

#include <yaml-cpp/yaml.h>

#include <fstream>
#include <functional>
#include <limits>
#include <set>
#include <sstream>

namespace cutover::proxy {
namespace {

[[noreturn]] void fail(const YAML::Node& node, const std::string& path, const std::string& what) {
  std::ostringstream msg;
  msg << "config: ";
  if (node.Mark().line >= 0) msg << "line " << node.Mark().line + 1 << ": ";
  msg << path << ": " << what;
  throw ConfigError(msg.str());
}

// One YAML mapping being read: every key must be claimed by a reader, the rest are errors.
class Section {
 public:
  Section(const YAML::Node& node, std::string path) : node_(node), path_(std::move(path)) {
    if (node_ && !node_.IsNull() && !node_.IsMap()) fail(node_, path_, "expected a mapping");
  }

  // Calls read(child, child_path) when `key` is present.
  void with(const std::string& key,
            const std::function<void(const YAML::Node&, const std::string&)>& read) {
    claimed_.insert(key);
    if (!node_ || node_.IsNull()) return;
    if (YAML::Node child = node_[key]; child) read(child, child_path(key));
  }

  void string(const std::string& key, std::string& out) {
    with(key, [&](const YAML::Node& n, const std::string& p) {
      if (!n.IsScalar()) fail(n, p, "expected a string");
      out = n.Scalar();
    });
  }

  template <typename T>
  void integer(const std::string& key, T& out, int64_t min, int64_t max) {
    with(key, [&](const YAML::Node& n, const std::string& p) {
      int64_t v = 0;
      if (!n.IsScalar() || !YAML::convert<int64_t>::decode(n, v) || v < min || v > max) {
        fail(n, p,
             "expected an integer in " + std::to_string(min) + ".." + std::to_string(max) +
                 ", got '" + (n.IsScalar() ? n.Scalar() : std::string("a collection")) + "'");
      }
      out = static_cast<T>(v);
    });
  }

  void millis(const std::string& key, std::chrono::milliseconds& out, int64_t min = 1) {
    int64_t ms = out.count();
    integer(key, ms, min, int64_t{24} * 3600 * 1000);
    out = std::chrono::milliseconds(ms);
  }

  void choice(const std::string& key, std::string& out, const std::set<std::string>& allowed) {
    string(key, out);
    if (!allowed.contains(out)) {
      std::string list;
      for (const auto& a : allowed) list += (list.empty() ? "" : ", ") + a;
      fail(node_[key], child_path(key), "expected one of " + list + ", got '" + out + "'");
    }
  }

  void section(const std::string& key, const std::function<void(Section&)>& read) {
    with(key, [&](const YAML::Node& n, const std::string& p) {
      Section child(n, p);
      read(child);
      child.finish();
    });
  }

  // Rejects every key no reader claimed.
  void finish() const {
    if (!node_ || !node_.IsMap()) return;
    for (const auto& item : node_) {
      auto key = item.first.Scalar();
      if (!claimed_.contains(key)) fail(item.first, child_path(key), "unknown key");
    }
  }

 private:
  std::string child_path(const std::string& key) const {
    return path_.empty() ? key : path_ + "." + key;
  }

  YAML::Node node_;
  std::string path_;
  std::set<std::string> claimed_;
};

void read_backend(Section& s, BackendConfig& b) {
  s.with("host", [&](const YAML::Node& n, const std::string& p) {
    if (!n.IsScalar() || n.Scalar().empty()) fail(n, p, "expected a host name or address");
    b.host = n.Scalar();
  });
  s.integer("port", b.port, 1, 65535);
}

void read_config(Section& root, Config& c) {
  root.section("listen", [&](Section& s) {
    s.string("address", c.listen.address);
    s.integer("port", c.listen.port, 0, 65535);
    s.integer("max_clients", c.listen.max_clients, 1, 1'000'000);
  });
  root.integer("threads", c.threads, 0, 256);
  root.section("backends", [&](Section& s) {
    s.section("old", [&](Section& b) { read_backend(b, c.backends.old_db); });
    s.section("new", [&](Section& b) { read_backend(b, c.backends.new_db); });
  });
  root.section("timeouts", [&](Section& s) {
    s.millis("backend_connect_ms", c.timeouts.backend_connect);
    s.millis("client_startup_ms", c.timeouts.client_startup);
    s.millis("client_idle_ms", c.timeouts.client_idle, 0);  // 0 = never
    s.millis("shutdown_ms", c.timeouts.shutdown, 0);        // 0 = end sessions at once
  });
  root.section("limits", [&](Section& s) {
    s.integer("max_message_bytes", c.limits.max_message_bytes, 1024, (int64_t{1} << 30));
    s.integer("buffer_bytes", c.limits.buffer_bytes, 4096, 16 << 20);
  });
  root.section("log", [&](Section& s) {
    s.choice("level", c.log.level, {"debug", "info", "warn", "error"});
    std::string format = c.log.format == LogFormat::kJson ? "json" : "text";
    s.choice("format", format, {"json", "text"});
    c.log.format = format == "json" ? LogFormat::kJson : LogFormat::kKeyValue;
  });
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
  auto backend = [&](const char* name, const BackendConfig& b) {
    out << YAML::Key << name << YAML::Value << YAML::Flow << YAML::BeginMap;
    out << YAML::Key << "host" << YAML::Value << b.host << YAML::Key << "port" << YAML::Value
        << b.port << YAML::EndMap;
  };
  out << YAML::BeginMap;
  out << YAML::Key << "listen" << YAML::Value << YAML::Flow << YAML::BeginMap;
  out << YAML::Key << "address" << YAML::Value << c.listen.address;
  out << YAML::Key << "port" << YAML::Value << c.listen.port;
  out << YAML::Key << "max_clients" << YAML::Value << c.listen.max_clients << YAML::EndMap;
  out << YAML::Key << "threads" << YAML::Value << c.threads;
  out << YAML::Key << "backends" << YAML::Value << YAML::BeginMap;
  backend("old", c.backends.old_db);
  backend("new", c.backends.new_db);
  out << YAML::EndMap;
  out << YAML::Key << "timeouts" << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "backend_connect_ms" << YAML::Value << c.timeouts.backend_connect.count();
  out << YAML::Key << "client_startup_ms" << YAML::Value << c.timeouts.client_startup.count();
  out << YAML::Key << "client_idle_ms" << YAML::Value << c.timeouts.client_idle.count();
  out << YAML::Key << "shutdown_ms" << YAML::Value << c.timeouts.shutdown.count() << YAML::EndMap;
  out << YAML::Key << "limits" << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "max_message_bytes" << YAML::Value << c.limits.max_message_bytes;
  out << YAML::Key << "buffer_bytes" << YAML::Value << c.limits.buffer_bytes << YAML::EndMap;
  out << YAML::Key << "log" << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "level" << YAML::Value << c.log.level;
  out << YAML::Key << "format" << YAML::Value
      << (c.log.format == LogFormat::kJson ? "json" : "text") << YAML::EndMap;
  out << YAML::EndMap;
  return std::string(out.c_str()) + "\n";
}

}  // namespace cutover::proxy
