#include "proxy/auth/cancel_registry.h"

#include <random>
#include <utility>

namespace cutover::proxy {
namespace {

int32_t random_secret() {
  thread_local std::random_device device;  // getrandom(2) on Linux
  return static_cast<int32_t>(device());
}

}  // namespace

ClientKey CancelRegistry::add(const BackendKey& backend) {
  ClientKey key{backend.process_id, random_secret()};
  std::lock_guard lock(mutex_);
  while (key.process_id <= 0 || entries_.contains(key.process_id)) {
    key.process_id = next_synthetic_id_;
    next_synthetic_id_ =
        next_synthetic_id_ == INT32_MAX ? kFirstSyntheticId : next_synthetic_id_ + 1;
  }
  entries_.emplace(key.process_id, Entry{key.secret_key, backend, std::nullopt});
  return key;
}

void CancelRegistry::remove(int32_t client_process_id) {
  std::lock_guard lock(mutex_);
  entries_.erase(client_process_id);
}

void CancelRegistry::add_secondary(int32_t client_process_id, const BackendKey& backend) {
  std::lock_guard lock(mutex_);
  if (auto it = entries_.find(client_process_id); it != entries_.end()) {
    it->second.secondary = backend;
  }
}

void CancelRegistry::swap_backends(int32_t client_process_id) {
  std::lock_guard lock(mutex_);
  if (auto it = entries_.find(client_process_id); it != entries_.end() && it->second.secondary) {
    std::swap(it->second.backend, *it->second.secondary);
  }
}

std::vector<BackendKey> CancelRegistry::find(int32_t client_process_id, int32_t secret_key) const {
  std::lock_guard lock(mutex_);
  auto it = entries_.find(client_process_id);
  if (it == entries_.end() || it->second.secret_key != secret_key) return {};
  std::vector<BackendKey> keys{it->second.backend};
  if (it->second.secondary) keys.push_back(*it->second.secondary);
  return keys;
}

}  // namespace cutover::proxy
