// The migration's live state: phase, read ramp and a version that moves with every change.
// Every session reads it per unit of work; the admin port changes it. Each change is written
// to a state file before it takes effect — a new file, fsynced, renamed over the old one, the
// directory fsynced — so a restarted instance comes back in the stored phase and ramp, never
// the configuration's defaults. (Sharing it between instances through a control database is
// the state store's next step.)
#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>

#include "router/phase.h"

namespace cutover::proxy {

class ControlState {
 public:
  struct Snapshot {
    router::Phase phase = router::Phase::kPassthrough;
    uint32_t read_ramp = 0;  // basis points
    uint64_t version = 0;
    int64_t changed_unix_ms = 0;
  };

  // Loads `path` when it exists, else starts at `phase` and `read_ramp` (version 0, not yet
  // written). Throws std::runtime_error naming the file when it cannot be read or parsed.
  ControlState(std::string path, router::Phase phase, uint32_t read_ramp);

  bool restored() const { return restored_; }
  const std::string& path() const { return path_; }
  Snapshot snapshot() const;
  router::Phase phase() const { return phase_.load(std::memory_order_relaxed); }
  uint32_t read_ramp() const { return read_ramp_.load(std::memory_order_relaxed); }

  // Makes `phase` and `read_ramp` the state, one version on, once the file has it; the error
  // (nothing changed) when it could not be written. `expected_version`: refused unless the
  // state is still that version (two operators changing it at once).
  std::optional<std::string> update(router::Phase phase, uint32_t read_ramp,
                                    uint64_t expected_version);

 private:
  std::optional<std::string> save(const Snapshot& next) const;

  const std::string path_;
  bool restored_ = false;
  mutable std::mutex mutex_;  // over snapshot_ and the file
  Snapshot snapshot_;
  std::atomic<router::Phase> phase_;
  std::atomic<uint32_t> read_ramp_;
};

}  // namespace cutover::proxy
