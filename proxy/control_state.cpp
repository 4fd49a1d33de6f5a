#include "proxy/control_state.h"

#include <fcntl.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace cutover::proxy {
namespace {

namespace json = boost::json;

ControlState::Snapshot parse_state(const std::string& text, const std::string& path) {
  auto fail = [&](const std::string& why) -> ControlState::Snapshot {
    throw std::runtime_error("state file " + path + ": " + why);
  };
  boost::system::error_code ec;
  json::value value = json::parse(text, ec);
  if (ec || !value.is_object()) return fail("not a JSON object");
  const json::object& o = value.get_object();
  const json::value* phase = o.if_contains("phase");
  const json::value* ramp = o.if_contains("read_ramp_basis_points");
  const json::value* version = o.if_contains("version");
  const json::value* changed = o.if_contains("changed_unix_ms");
  if (phase == nullptr || !phase->is_string()) return fail("no phase");
  auto parsed = router::parse_phase(std::string_view(phase->get_string()));
  if (!parsed) return fail("unknown phase '" + std::string(phase->get_string()) + "'");
  if (ramp == nullptr || !ramp->is_int64() || ramp->get_int64() < 0 || ramp->get_int64() > 10000) {
    return fail("read_ramp_basis_points must be 0..10000");
  }
  if (version == nullptr || !version->is_int64() || version->get_int64() < 0) {
    return fail("no version");
  }
  return {.phase = *parsed,
          .read_ramp = static_cast<uint32_t>(ramp->get_int64()),
          .version = static_cast<uint64_t>(version->get_int64()),
          .changed_unix_ms = changed != nullptr && changed->is_int64() ? changed->get_int64() : 0};
}

std::string errno_text(const std::string& what) { return what + ": " + std::strerror(errno); }

// Writes `text` to `path` so that a crash leaves either the old file or the new one whole.
std::optional<std::string> replace_file(const std::string& path, const std::string& text) {
  const std::filesystem::path target(path);
  const std::filesystem::path temporary = target.string() + ".tmp";
  std::error_code created;
  if (target.has_parent_path()) std::filesystem::create_directories(target.parent_path(), created);
  if (created) return "cannot create " + target.parent_path().string() + ": " + created.message();
  const int fd = ::open(temporary.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return errno_text("cannot open " + temporary.string());
  const bool written = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
  const bool synced = written && ::fsync(fd) == 0;
  const std::string error = synced ? "" : errno_text("cannot write " + temporary.string());
  ::close(fd);
  if (!synced) return error;
  if (::rename(temporary.c_str(), target.c_str()) != 0) {
    return errno_text("cannot rename " + temporary.string());
  }
  const std::string dir = target.has_parent_path() ? target.parent_path().string() : ".";
  const int dir_fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir_fd < 0) return errno_text("cannot open " + dir);
  const bool dir_synced = ::fsync(dir_fd) == 0;
  ::close(dir_fd);
  if (!dir_synced) return errno_text("cannot fsync " + dir);
  return std::nullopt;
}

}  // namespace

ControlState::ControlState(std::string path, router::Phase phase, uint32_t read_ramp)
    : path_(std::move(path)), snapshot_{.phase = phase, .read_ramp = read_ramp} {
  std::ifstream in(path_);
  if (in) {
    std::stringstream text;
    text << in.rdbuf();
    snapshot_ = parse_state(text.str(), path_);
    restored_ = true;
  } else if (std::filesystem::exists(path_)) {
    throw std::runtime_error("state file " + path_ + ": cannot be read");
  }
  phase_ = snapshot_.phase;
  read_ramp_ = snapshot_.read_ramp;
}

ControlState::Snapshot ControlState::snapshot() const {
  std::lock_guard lock(mutex_);
  return snapshot_;
}

std::optional<std::string> ControlState::update(router::Phase phase, uint32_t read_ramp,
                                                uint64_t expected_version) {
  std::lock_guard lock(mutex_);
  if (snapshot_.version != expected_version) {
    return "the state changed meanwhile (version " + std::to_string(snapshot_.version) + ")";
  }
  Snapshot next{.phase = phase,
                .read_ramp = read_ramp,
                .version = snapshot_.version + 1,
                .changed_unix_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                                       std::chrono::system_clock::now().time_since_epoch())
                                       .count()};
  if (auto error = save(next)) return error;
  snapshot_ = next;
  phase_ = phase;
  read_ramp_ = read_ramp;
  return std::nullopt;
}

std::optional<std::string> ControlState::save(const Snapshot& next) const {
  json::object o;
  o["phase"] = std::string(router::to_string(next.phase));
  o["read_ramp_basis_points"] = next.read_ramp;
  o["version"] = next.version;
  o["changed_unix_ms"] = next.changed_unix_ms;
  return replace_file(path_, json::serialize(o) + "\n");
}

}  // namespace cutover::proxy
