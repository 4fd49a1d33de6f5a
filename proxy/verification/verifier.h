// cutover's own verification, run by a running cutover in dual_write on a thread of its own:
// a pass compares every table (verify.tables) with each table read in a pair of snapshots, one
// on old and one on new, taken while commits are held (CommitFence::hold): none half done,
// none starting, so both snapshots hold the same writes and every difference found is real,
// however busy the sessions are. The hold lasts the snapshots' round trip, a few milliseconds.
// A pass settles the process's open divergences, sets the cutover_verify_* metrics and leaves
// a report for GET /verify. Started by POST /verify (the continuous schedule is not built yet).
// Not the comparison itself (verification_pass.h).
#pragma once

#include <prometheus/gauge.h>
#include <prometheus/histogram.h>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>

#include "proxy/base/config.h"
#include "proxy/migration/proxy_context.h"
#include "proxy/verification/pg_session.h"
#include "proxy/verification/verification_pass.h"

namespace cutover::proxy {

class Verifier {
 public:
  // Registers the cutover_verify_* metrics; `context` must hold the journal and divergences
  // (cutover mirrors). The thread starts at once and waits for start().
  Verifier(const Config& config, ProxyContext& context);
  ~Verifier();  // a running pass stops before its next range
  Verifier(const Verifier&) = delete;
  Verifier& operator=(const Verifier&) = delete;

  // Starts a pass; false when one is already running. Its number is next_pass().
  bool start();
  uint64_t next_pass() const;
  // The latest pass (or the running one) as JSON (docs/verification.md), "" before the first.
  std::string report() const;

 private:
  void run();
  void run_pass(uint64_t number);
  PassResult compare_all();
  void publish(uint64_t number, int64_t started, const PassResult& pass, size_t closed);
  boost::system::result<void, PgError> open_pair(PgSession& old_db, PgSession& new_db);
  boost::system::result<bool, PgError> take_pair(PgSession& old_db, PgSession& new_db);

  const Config& config_;
  ProxyContext& context_;
  prometheus::Family<prometheus::Gauge>& mismatched_rows_;
  prometheus::Gauge& last_success_;
  prometheus::Histogram& holds_;
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::atomic<bool> stop_{false};  // stopping_, for a running pass to see
  bool wanted_ = false;            // start() asked for a pass
  bool running_ = false;           // a pass is running
  uint64_t passes_ = 0;            // started so far
  std::string report_;
  double longest_hold_ms_ = 0;  // in the running pass (its thread only)
  uint64_t holds_taken_ = 0;
  std::thread thread_;  // last: starts once everything above exists
};

}  // namespace cutover::proxy
