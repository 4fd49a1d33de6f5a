// The migration's live state: phase, read ramp and a version that moves with every change.
// Every session reads it per unit of work; the admin port changes it. Each change is stored
// (control_store.h: a state file replaced atomically, or a shared control database) before it
// takes effect, so a restarted instance comes back in the stored phase and ramp, never the
// configuration's defaults; with a control database, a change made through any instance
// reaches the others within a second.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "proxy/control/control_store.h"
#include "router/phase.h"

namespace cutover::proxy {

class ControlState {
 public:
  using Snapshot = ControlSnapshot;

  // Loads the state from `store`, else starts at `phase` and `read_ramp`; throws
  // std::runtime_error naming the store when it cannot be read.
  ControlState(std::unique_ptr<ControlStore> store, router::Phase phase, uint32_t read_ramp);
  ~ControlState();

  bool restored() const { return restored_; }
  std::string store() const { return store_->describe(); }
  Snapshot snapshot() const;
  router::Phase phase() const { return phase_.load(std::memory_order_relaxed); }
  uint32_t read_ramp() const { return read_ramp_.load(std::memory_order_relaxed); }

  // Makes `phase` and `read_ramp` the state, one version on, once the store has it; the error
  // (nothing changed) when it could not be stored, or the state is no longer
  // `expected_version` (another change came first).
  std::optional<std::string> update(router::Phase phase, uint32_t read_ramp,
                                    uint64_t expected_version);

 private:
  void apply(const Snapshot& next);  // under mutex_

  std::unique_ptr<ControlStore> store_;
  bool restored_ = false;
  mutable std::mutex mutex_;  // over snapshot_ and the store's writes
  Snapshot snapshot_;
  std::atomic<router::Phase> phase_;
  std::atomic<uint32_t> read_ramp_;
};

}  // namespace cutover::proxy
