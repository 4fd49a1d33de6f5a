#include "proxy/control/control_state.h"

#include <chrono>

#include "proxy/base/log.h"

namespace cutover::proxy {

ControlState::ControlState(std::unique_ptr<ControlStore> store, router::Phase phase,
                           uint32_t read_ramp)
    : store_(std::move(store)), snapshot_{.phase = phase, .read_ramp = read_ramp} {
  if (auto stored = store_->load(snapshot_)) {
    snapshot_ = *stored;
    restored_ = true;
  }
  phase_ = snapshot_.phase;
  read_ramp_ = snapshot_.read_ramp;
  store_->watch([this](const Snapshot& next) {
    std::lock_guard lock(mutex_);
    if (next.version <= snapshot_.version) return;
    apply(next);
    log::info("control_changed_elsewhere", {{"phase", router::to_string(next.phase)},
                                            {"read_ramp_percent", next.read_ramp / 100.0},
                                            {"version", next.version}});
  });
}

ControlState::~ControlState() { store_->stop(); }

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
  const Snapshot next{.phase = phase,
                      .read_ramp = read_ramp,
                      .version = snapshot_.version + 1,
                      .changed_unix_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                                             std::chrono::system_clock::now().time_since_epoch())
                                             .count()};
  if (auto error = store_->save(next, snapshot_.version)) return error;
  apply(next);
  return std::nullopt;
}

void ControlState::apply(const Snapshot& next) {
  snapshot_ = next;
  phase_ = next.phase;
  read_ramp_ = next.read_ramp;
}

}  // namespace cutover::proxy
