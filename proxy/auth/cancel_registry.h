// Maps the BackendKeyData cutover gives its clients to the backend keys behind them, so a
// CancelRequest can be forwarded to the backend doing the work. Thread-safe; touched at login,
// logout and cancel only, never on the data path.
#pragma once

#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

namespace cutover::proxy {

struct BackendKey {
  std::string host;
  uint16_t port = 0;
  int32_t process_id = 0;
  int32_t secret_key = 0;
};

struct ClientKey {
  int32_t process_id = 0;
  int32_t secret_key = 0;
};

class CancelRegistry {
 public:
  // Issues the client's key: the backend's process id when no other session shows it (so that
  // pg_backend_pid() agrees with what drivers report), otherwise an id from a range no Linux
  // process id reaches; the secret is cutover's own, from the OS's random source.
  ClientKey add(const BackendKey& backend);
  // A second backend working for the same client (new, in dual_write).
  void add_secondary(int32_t client_process_id, const BackendKey& backend);
  // The two trade places (a promotion swapped the session's connections), so that a secondary
  // logged in again replaces the right one.
  void swap_backends(int32_t client_process_id);
  void remove(int32_t client_process_id);
  // The backend keys for a client's cancel request (the first one's, then the secondary's),
  // when both its id and secret match; empty otherwise.
  std::vector<BackendKey> find(int32_t client_process_id, int32_t secret_key) const;

 private:
  struct Entry {
    int32_t secret_key;
    BackendKey backend;
    std::optional<BackendKey> secondary;
  };

  mutable std::mutex mutex_;
  std::unordered_map<int32_t, Entry> entries_;
  int32_t next_synthetic_id_ = kFirstSyntheticId;
  static constexpr int32_t kFirstSyntheticId = 1 << 30;  // Linux pid_max is at most 2^22
};

}  // namespace cutover::proxy
