// Where the migration's live state (control_state.h) is kept: a state file on this machine,
// or a row in a PostgreSQL control database that several cutover instances share, each
// learning of the others' changes through LISTEN/NOTIFY, with polling as the fallback.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "router/phase.h"

namespace cutover::proxy {

struct ControlSnapshot {
  router::Phase phase = router::Phase::kPassthrough;
  uint32_t read_ramp = 0;  // basis points
  uint64_t version = 0;
  int64_t changed_unix_ms = 0;
};

class ControlStore {
 public:
  virtual ~ControlStore() = default;
  // The stored state, or `initial` when nothing is stored yet (then stored as version 0 where
  // the store is shared, so every instance starts from the same). Throws std::runtime_error
  // naming the store when it cannot be read.
  virtual std::optional<ControlSnapshot> load(const ControlSnapshot& initial) = 0;
  // Stores `next` if the stored version is still `expected_version`; the error otherwise
  // (nothing stored).
  virtual std::optional<std::string> save(const ControlSnapshot& next,
                                          uint64_t expected_version) = 0;
  // Calls `changed` (from a thread of the store's) with every state another instance stores,
  // until stop(). Only shared stores have others.
  virtual void watch(std::function<void(const ControlSnapshot&)> changed) = 0;
  virtual void stop() {}
  virtual std::string describe() const = 0;  // for logs: "file /x/state.json", "database ..."
};

// control.store: "file:PATH" or a PostgreSQL connection URI ("postgresql://...").
std::unique_ptr<ControlStore> make_control_store(const std::string& store);

}  // namespace cutover::proxy
