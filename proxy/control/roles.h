// Which database the data plane serves from (its source of truth) and whether it mirrors, as
// the sessions have switched to it. The phase (control_state.h) says where they should be; a
// change of roles (promote, decommission, rollback after a promotion) is carried out by a role
// switch (proxy/server/role_switch.cpp), which holds every session at its next transaction
// boundary, then settles the new roles and lets them go on. So during a switch the phase leads and
// the roles follow, a few milliseconds to control.switch_timeout_ms later.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>

#include "router/phase.h"

namespace cutover::proxy {

struct RoleSet {
  router::Backend serving = router::Backend::kOld;
  bool mirroring = true;  // writes also go to the other database
  friend bool operator==(const RoleSet&, const RoleSet&) = default;
};

// The roles a phase asks for (shared/DESIGN.md's table).
inline RoleSet roles_of(router::Phase phase) {
  return {router::source_of_truth(phase), router::mirror_of(phase).has_value()};
}

// Thread-safe; sessions read it per unit without a lock.
class Roles {
 public:
  explicit Roles(RoleSet initial) : serving_(initial.serving), mirroring_(initial.mirroring) {}

  RoleSet current() const {
    return {serving_.load(std::memory_order_acquire), mirroring_.load(std::memory_order_acquire)};
  }
  // Sessions stop at their next transaction boundary until settle() or release().
  bool holding() const { return holding_.load(std::memory_order_acquire); }
  void hold() { holding_.store(true, std::memory_order_release); }
  void release() { holding_.store(false, std::memory_order_release); }
  // Puts `next` in place and ends the hold.
  void settle(RoleSet next) {
    {
      std::lock_guard lock(mutex_);
      serving_.store(next.serving, std::memory_order_release);
      mirroring_.store(next.mirroring, std::memory_order_release);
      holding_.store(false, std::memory_order_release);
    }
    settled_.notify_all();
  }
  // Whether `wanted` is in place within `limit` (for the admin port's answer to a change).
  bool wait_for(RoleSet wanted, std::chrono::milliseconds limit) const {
    std::unique_lock lock(mutex_);
    return settled_.wait_for(lock, limit, [&] { return current() == wanted; });
  }

 private:
  std::atomic<router::Backend> serving_;
  std::atomic<bool> mirroring_;
  std::atomic<bool> holding_{false};
  mutable std::mutex mutex_;
  mutable std::condition_variable settled_;
};

}  // namespace cutover::proxy
