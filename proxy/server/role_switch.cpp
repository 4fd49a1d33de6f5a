// The process's side of a role switch: when the phase asks for other roles than the sessions
// serve in (promote: new becomes the source of truth; rollback after it: old again;
// decommission: no more mirror), every session is held at its next transaction boundary. Once
// none is inside a transaction (those still inside one after control.switch_timeout_ms are
// ended, their transactions rolled back) and the journal owes the database about to serve no
// write, one last sequence pass runs with writes held, the roles are settled, and the sessions
// go on, each swapping its two connections first (session_roles.cpp). Holding everyone is what
// keeps conflicting writes in one order: a session writing old-then-new next to one writing
// new-then-old could each lock a row the other needs on a different server, a deadlock
// neither server sees.
#include "proxy/base/log.h"
#include "proxy/server/server.h"

namespace cutover::proxy {
namespace {

using Clock = std::chrono::steady_clock;

constexpr auto kPhasePoll = std::chrono::milliseconds(20);
constexpr auto kSettlePoll = std::chrono::milliseconds(5);

asio::awaitable<size_t> count_in_flight(const SessionSet* sessions) {
  size_t in_flight = 0;
  for (const Session* session : *sessions) in_flight += session->at_switch_point() ? 0 : 1;
  co_return in_flight;
}

}  // namespace

asio::awaitable<void> Server::watch_roles() {
  bool waiting_logged = false;
  while (!stopping_.load()) {
    co_await sleep_for(kPhasePoll);
    const RoleSet wanted = roles_of(context_.control.phase());
    const RoleSet current = context_.roles.current();
    // No phase leads from decommissioned back to a mirror.
    if (wanted == current || (wanted.mirroring && !current.mirroring)) continue;
    if (wanted.serving != current.serving && context_.journal->holds_records()) {
      // The database about to serve lacks writes the journal holds: their replay comes first.
      if (!waiting_logged) {
        log::warn("role_switch_waiting", {{"serving", router::to_string(wanted.serving)},
                                          {"journal_records", context_.journal->records_behind()}});
      }
      waiting_logged = true;
      continue;
    }
    waiting_logged = false;
    co_await switch_roles(wanted);
  }
}

asio::awaitable<void> Server::switch_roles(RoleSet wanted) {
  const RoleSet from = context_.roles.current();
  const bool serving_changes = wanted.serving != from.serving;
  const auto started = Clock::now();
  context_.roles.hold();
  log::info("role_switch_started",
            {{"serving", router::to_string(wanted.serving)}, {"mirroring", wanted.mirroring}});
  bool ended_stragglers = false;
  for (;;) {
    const size_t in_flight = co_await sessions_in_flight();
    const bool journal_clear = !serving_changes || !context_.journal->holds_records();
    if (in_flight == 0 && journal_clear) break;
    if (Clock::now() - started >= context_.live.switch_timeout()) {
      if (!journal_clear) {
        // Serving from a database that misses writes would lose them: go on as before, and
        // watch_roles() tries again once replay caught up.
        context_.roles.release();
        for_each_session(&Session::release_hold);
        log::error("role_switch_abandoned",
                   {{"serving", router::to_string(from.serving)},
                    {"reason", "the journal still holds writes for the database to serve"}});
        co_return;
      }
      if (!ended_stragglers) for_each_session(&Session::end_for_switch);
      ended_stragglers = true;
    }
    co_await sleep_for(kSettlePoll);
  }
  if (serving_changes && context_.sequences != nullptr) {
    const auto secrets = context_.secrets();
    co_await context_.sequences->pass(*secrets);  // the last one in this direction
  }
  if (serving_changes) context_.journal->set_mirror(router::other(wanted.serving));
  context_.roles.settle(wanted);
  for_each_session(&Session::release_hold);
  log::info(
      "role_switched",
      {{"serving", router::to_string(wanted.serving)},
       {"mirroring", wanted.mirroring},
       {"held_ms",
        std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - started).count()},
       {"sessions_ended", ended_stragglers}});
  if (serving_changes && context_.sequences != nullptr) {
    const auto secrets = context_.secrets();
    co_await context_.sequences->pass(*secrets);  // the first in the other direction
  }
}

// Sessions that are not at a switch point, counted on each worker's own thread.
asio::awaitable<size_t> Server::sessions_in_flight() {
  size_t in_flight = 0;
  for (auto& worker : workers_) {
    in_flight += co_await asio::co_spawn(worker->io, count_in_flight(&worker->sessions),
                                         asio::use_awaitable);
  }
  co_return in_flight;
}

}  // namespace cutover::proxy
