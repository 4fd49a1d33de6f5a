#include "proxy/migration/divergence_ledger.h"

#include <boost/json.hpp>
#include <chrono>
#include <fstream>
#include <set>
#include <system_error>

#include "proxy/base/log.h"
#include "verify/durable_file.h"

namespace cutover::proxy {
namespace {

namespace json = boost::json;

int64_t unix_ms_now() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string open_line(const Divergence& d) {
  json::array keys;
  for (const std::string& key : d.keys) keys.emplace_back(key);
  return json::serialize(json::object{{"op", "open"},
                                      {"id", d.id},
                                      {"kind", d.kind},
                                      {"table", d.table},
                                      {"keys", std::move(keys)},
                                      {"fingerprint", log::hex(d.fingerprint)},
                                      {"since_unix_ms", d.since_unix_ms},
                                      {"detail", d.detail}});
}

// An "open" record read back; nullopt when the line is not one.
std::optional<Divergence> parse_open(const json::object& line) {
  Divergence d;
  const json::value* id = line.if_contains("id");
  if (id == nullptr || !id->is_number()) return std::nullopt;
  d.id = id->to_number<uint64_t>();
  auto text = [&](std::string_view name) {
    const json::value* v = line.if_contains(name);
    return v != nullptr && v->is_string() ? std::string(v->get_string()) : std::string();
  };
  d.kind = text("kind");
  d.table = text("table");
  d.detail = text("detail");
  d.fingerprint = std::strtoull(text("fingerprint").c_str(), nullptr, 16);
  if (const json::value* since = line.if_contains("since_unix_ms"); since && since->is_number()) {
    d.since_unix_ms = since->to_number<int64_t>();
  }
  if (const json::value* keys = line.if_contains("keys"); keys && keys->is_array()) {
    for (const json::value& key : keys->get_array()) {
      if (key.is_string()) d.keys.emplace_back(key.get_string());
    }
  }
  return d;
}

}  // namespace

DivergenceLedger::DivergenceLedger(std::filesystem::path file) : file_(std::move(file)) {
  if (file_.has_parent_path()) std::filesystem::create_directories(file_.parent_path());
  load();
}

void DivergenceLedger::load() {
  std::ifstream in(file_);
  size_t skipped = 0;
  for (std::string text; std::getline(in, text);) {
    boost::system::error_code ec;
    const json::value line = json::parse(text, ec);
    if (ec || !line.is_object()) {
      ++skipped;
      continue;
    }
    const json::object& record = line.get_object();
    const json::value* op = record.if_contains("op");
    if (op == nullptr || !op->is_string()) continue;
    if (op->get_string() == "open") {
      if (std::optional<Divergence> d = parse_open(record)) {
        next_id_ = std::max(next_id_, d->id + 1);
        by_identity_[{d->kind, d->table, d->fingerprint}] = d->id;
        open_[d->id] = std::move(*d);
      }
    } else if (op->get_string() == "close") {
      const json::value* id = record.if_contains("id");
      if (id == nullptr || !id->is_number()) continue;
      const auto at = open_.find(id->to_number<uint64_t>());
      if (at == open_.end()) continue;
      by_identity_.erase({at->second.kind, at->second.table, at->second.fingerprint});
      open_.erase(at);
    }
  }
  // A torn last line (a crash mid-write) must not swallow the next record: end it first.
  std::ifstream tail(file_, std::ios::ate | std::ios::binary);
  if (tail && tail.tellg() > 0) {
    tail.seekg(-1, std::ios::end);
    if (tail.get() != '\n') verify::append_durable_line(file_, "");
  }
  if (skipped > 0) {
    log::warn("divergence_ledger_lines_skipped", {{"file", file_.string()}, {"lines", skipped}});
  }
  if (!open_.empty()) {
    log::warn("divergences_open", {{"file", file_.string()}, {"open", open_.size()}});
  }
}

uint64_t DivergenceLedger::open(Divergence found) {
  std::lock_guard lock(mutex_);
  const Identity identity{found.kind, found.table, found.fingerprint};
  if (const auto known = by_identity_.find(identity); known != by_identity_.end()) {
    ++open_[known->second].occurrences;
    return known->second;
  }
  found.id = next_id_++;
  found.since_unix_ms = unix_ms_now();
  found.occurrences = 1;
  verify::append_durable_line(file_, open_line(found));
  log::warn("divergence_opened", {{"id", found.id},
                                  {"kind", found.kind},
                                  {"table", found.table},
                                  {"keys", log::joined(found.keys)},
                                  {"fingerprint", log::hex(found.fingerprint)},
                                  {"detail", found.detail}});
  by_identity_[identity] = found.id;
  const uint64_t id = found.id;
  open_[id] = std::move(found);
  return id;
}

void DivergenceLedger::note(const Divergence& found, const std::vector<std::string>& tables) {
  try {
    if (tables.empty()) open(found);
    for (const std::string& table : tables) {
      Divergence one = found;
      one.table = table;
      one.keys.clear();
      for (const std::string& key : found.keys) {
        if (key.starts_with(table + "(")) one.keys.push_back(key);
      }
      open(std::move(one));
    }
  } catch (const std::system_error& e) {
    log::error("divergence_not_recorded", {{"kind", found.kind}, {"error", e.what()}});
  }
}

size_t DivergenceLedger::close_if(const std::function<bool(const Divergence&)>& settled,
                                  std::string_view why) {
  std::lock_guard lock(mutex_);
  size_t closed = 0;
  for (auto at = open_.begin(); at != open_.end();) {
    const Divergence& d = at->second;
    if (!settled(d)) {
      ++at;
      continue;
    }
    verify::append_durable_line(
        file_, json::serialize(json::object{{"op", "close"}, {"id", d.id}, {"why", why}}));
    log::info("divergence_closed",
              {{"id", d.id}, {"kind", d.kind}, {"table", d.table}, {"why", why}});
    by_identity_.erase({d.kind, d.table, d.fingerprint});
    at = open_.erase(at);
    ++closed;
  }
  return closed;
}

std::vector<Divergence> DivergenceLedger::open_items() const {
  std::lock_guard lock(mutex_);
  std::vector<Divergence> items;
  items.reserve(open_.size());
  for (const auto& [id, d] : open_) items.push_back(d);
  return items;
}

size_t DivergenceLedger::open_count() const {
  std::lock_guard lock(mutex_);
  return open_.size();
}

std::vector<std::string> DivergenceLedger::tables() const {
  std::lock_guard lock(mutex_);
  std::set<std::string> tables;
  for (const auto& [id, d] : open_) tables.insert(d.table);
  return {tables.begin(), tables.end()};
}

}  // namespace cutover::proxy
