// What every session of the process shares: the configuration, the migration's state and
// roles, the journal, comparator and sequence keeper, metrics, cancel keys and secrets.
// Not a session's own state (session.h).
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>

#include "protocol/scram.h"
#include "proxy/auth/cancel_registry.h"
#include "proxy/auth/credentials.h"
#include "proxy/base/config.h"
#include "proxy/base/live_settings.h"
#include "proxy/base/metrics.h"
#include "proxy/control/control_state.h"
#include "proxy/control/roles.h"
#include "proxy/migration/commit_fence.h"
#include "proxy/migration/divergence_ledger.h"
#include "proxy/migration/mirror_journal.h"
#include "proxy/migration/sequence_keeper.h"
#include "router/circuit_breaker.h"
#include "router/classify.h"
#include "router/policy.h"
#include "verify/comparator.h"

namespace cutover::proxy {

// What every session of the process shares. The config never changes while sessions run; the
// secrets (files it names) are replaced on SIGHUP, and a session keeps the set it started with.
class ProxyContext {
 public:
  // Opens the journal in dual_write; throws std::system_error when its directory is unusable.
  ProxyContext(const Config& c, std::shared_ptr<const Secrets> secrets);
  ~ProxyContext();

  const Config& config;
  // The migration's phase and read ramp as they are now (the admin port changes them); the
  // roles sessions serve in (they follow the phase through a role switch); and whether this
  // process holds connections to both databases (its phase had a mirror when it started: a
  // running process does not switch between serving one database and mirroring).
  ControlState control;
  Roles roles;
  const bool mirroring;
  LiveSettings live;  // what SIGHUP changes while sessions run
  Metrics metrics;
  CancelRegistry cancels;
  std::atomic<uint64_t> next_connection_id{1};
  // Moves on with every DDL unit and at the end of each transaction that ran DDL: sessions
  // then forget what they learnt of tables' columns (session_defaults.cpp).
  std::atomic<uint64_t> schema_version{0};
  const TrustedNetworks trusted;
  const router::Classifier classifier;
  const router::PolicyConfig policy;
  router::CircuitBreaker breaker;  // over every session's reads to new
  // What differs, or may, between old and new until verification or repair says otherwise
  // (dual_write only; null otherwise). Before the comparator, which reports to it until it
  // stops.
  std::unique_ptr<DivergenceLedger> divergences;
  // Writes new did not take, and the comparison of both answers to every mirrored write
  // (dual_write only; null otherwise).
  std::unique_ptr<MirrorJournal> journal;
  std::unique_ptr<verify::Comparator> comparator;
  std::unique_ptr<SequenceKeeper> sequences;  // dual_write, unless sequence_sync_ms is 0
  // Commits old has and new may not have yet: what a mirrored write waits for before it goes
  // to new.
  CommitFence commits;
  // Keys the fake SCRAM salts of unknown users, so they stay the same for a name within a
  // process and do not reveal that the user does not exist.
  const protocol::scram::Key mock_key;

  std::shared_ptr<const Secrets> secrets() const;
  void replace_secrets(std::shared_ptr<const Secrets> secrets);

 private:
  mutable std::mutex mutex_;
  std::shared_ptr<const Secrets> secrets_;
};

}  // namespace cutover::proxy
