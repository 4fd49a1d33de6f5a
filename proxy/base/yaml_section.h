// Reading one YAML mapping of the configuration strictly: every key must be claimed by a
// reader, and a key that is not, or a value of the wrong kind or out of range, is a
// ConfigError naming its line and dotted path. Only for config.cpp (yaml-cpp stays private to
// proxy/base).
#pragma once

#include <yaml-cpp/yaml.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <set>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "proxy/base/config.h"

namespace cutover::proxy::yaml {

[[noreturn]] inline void fail(const YAML::Node& node, const std::string& path,
                              const std::string& what) {
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

  // A string naming one of `names`' values.
  template <typename E>
  void enumeration(const std::string& key, E& out,
                   const std::vector<std::pair<std::string, E>>& names) {
    with(key, [&](const YAML::Node& n, const std::string& p) {
      std::string list;
      for (const auto& [name, value] : names) {
        if (n.IsScalar() && n.Scalar() == name) {
          out = value;
          return;
        }
        list += (list.empty() ? "" : ", ") + name;
      }
      fail(n, p,
           "expected one of " + list + ", got '" + (n.IsScalar() ? n.Scalar() : "a collection") +
               "'");
    });
  }

  void strings(const std::string& key, std::vector<std::string>& out) {
    with(key, [&](const YAML::Node& n, const std::string& p) {
      if (!n.IsSequence()) fail(n, p, "expected a list of strings");
      out.clear();
      for (const auto& item : n) {
        if (!item.IsScalar()) fail(item, p, "expected a list of strings");
        out.push_back(item.Scalar());
      }
    });
  }

  // A failure about this section as a whole, e.g. two keys that do not fit together.
  [[noreturn]] void reject(const std::string& key, const std::string& what) const {
    fail(node_ && node_.IsMap() && node_[key] ? node_[key] : YAML::Node(), child_path(key), what);
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

}  // namespace cutover::proxy::yaml
