// Keeps the mirror's sequences ahead of the source of truth's (new's ahead of old's, and the
// other way round once a promotion made new the source of truth). Keys pinned from old reach new
// as explicit values (session_defaults.cpp), so new's own sequences stand still while its
// tables fill; were new made the source of truth like that, its next nextval() would hand
// out keys old already gave, and inserts would fail with duplicate keys. So every
// migration.mirror.sequence_sync_ms, for each database and user sessions have logged in with,
// the keeper reads every ascending sequence's last value on old (pg_sequences) and moves each
// of new's that is less than half of migration.mirror.sequence_margin ahead of it to old's
// value + the margin (setval; never backwards). Between two passes old may hand out up to half
// the margin before new is behind again, so the margin should exceed twice the values old
// hands out per interval; a role switch runs one last pass with writes held (role_switch.cpp).
// Runs on one connection per database to each side, with cutover's configured users and
// passwords (as journal replay does).
#pragma once

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <utility>

#include "proxy/auth/credentials.h"
#include "proxy/base/config.h"
#include "proxy/control/roles.h"
#include "proxy/migration/own_connection.h"
#include "proxy/net/asio.h"

namespace cutover::proxy {

class SequenceKeeper {
 public:
  SequenceKeeper(const Config& config, const Roles& roles) : config_(config), roles_(roles) {}

  // A session logged in to this database as this user: its sequences are kept from now on
  // (thread-safe).
  void note_login(const std::string& database, const std::string& user);
  // Passes until stop() (thread-safe).
  asio::awaitable<void> run(std::function<std::shared_ptr<const Secrets>()> secrets);
  // One pass now, after the one running (if any) ends; on run()'s executor.
  asio::awaitable<void> pass(const Secrets& secrets);
  // After the last complete pass, how far the mirror's sequences were ahead of the source of
  // truth's at the least (max() when no sequence is in use); nullopt before the first complete
  // pass and after a failed one (thread-safe).
  std::optional<int64_t> headroom() const {
    if (!headroom_known_.load()) return std::nullopt;
    return headroom_.load();
  }
  void stop() { stopping_.store(true); }

 private:
  using Key = std::pair<std::string, std::string>;  // database, user (as cutover logs in)
  struct Pair {
    std::unique_ptr<OwnConnection> old_side;
    std::unique_ptr<OwnConnection> new_side;
    bool failing = false;  // the last pass failed and said so: the next failure is not logged
  };

  asio::awaitable<bool> keep(const Key& key, Pair& pair, const Secrets& secrets, int64_t& least);
  asio::awaitable<bool> connect(const Key& key, Pair& pair, const Secrets& secrets);
  asio::awaitable<bool> open_side(const Key& key, Pair& pair, std::unique_ptr<OwnConnection>& side,
                                  const BackendTarget& target);
  asio::awaitable<bool> advance(const Key& key, Pair& pair, int64_t& least);
  void fail(const Key& key, Pair& pair, const std::string& error);

  const Config& config_;
  const Roles& roles_;
  bool passing_ = false;  // on run()'s executor only
  std::mutex mutex_;
  std::set<Key> logins_;  // under mutex_
  std::map<Key, Pair> pairs_;
  std::atomic<bool> stopping_{false};
  std::atomic<int64_t> headroom_{0};
  std::atomic<bool> headroom_known_{false};
};

}  // namespace cutover::proxy
