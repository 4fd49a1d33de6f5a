// A session's side of a role switch (proxy/server/role_switch.cpp). At the start of each unit the
// session compares its roles with the process's: while a switch holds sessions, it waits there
// (between transactions, nothing in flight); once the roles changed, its relay stops, the two
// connections trade places (promotion, rollback after it) or the mirror's is closed
// (decommission), and the relay starts again on the same client connection. Both servers keep
// their sessions, so settings, temporary tables and prepared statements stay.
#include "proxy/base/log.h"
#include "proxy/session/session.h"

namespace cutover::proxy {

bool Session::at_switch_point() const {
  return idle() && dispatcher_.between_units() && !primary_.copy_in && mirror_.quiet() &&
         !primary_.awaiting_answer && !primary_.chunk_unsent && !client_.writes_held;
}

void Session::end_for_switch() {
  if (at_switch_point()) return;
  log::warn("session_ended_for_switch",
            {{"conn", id_}, {"transaction_status", std::string(1, primary_.status)}});
  stop_ = Stop::kEndForSwitch;
  shutdown_signal_.notify();
}

void Session::release_hold() { hold_signal_.notify(); }

// A mirror retired by a decommission cannot come back (no phase leads back to mirroring).
bool Session::roles_changed() const {
  const RoleSet wanted = context_.roles.current();
  return wanted.serving != primary_.database || (!wanted.mirroring && !mirror_.retired());
}

asio::awaitable<void> Session::wait_while_held() {
  while (context_.roles.holding()) {
    const bool woken = co_await hold_signal_.wait();
    if (!woken) co_return;
  }
}

asio::awaitable<bool> Session::switch_roles() {
  const RoleSet wanted = context_.roles.current();
  if (wanted.serving != primary_.database) {
    if (!new_side_.ready() || mirror_.retired()) {
      log::warn("session_switch_impossible",
                {{"conn", id_}, {"serving", router::to_string(wanted.serving)}});
      co_return false;
    }
    const bool drained = co_await mirror_.drain_new();
    if (!drained) co_return false;
    const bool prepared = co_await prepare_everything_on_new();
    if (!prepared) co_return false;
    swap_connections();
  }
  if (!wanted.mirroring && !mirror_.retired()) retire_mirror();
  log::info("session_switched", {{"conn", id_},
                                 {"serving", router::to_string(primary_.database)},
                                 {"mirroring", !mirror_.retired()}});
  co_return true;
}

// Every statement the client prepared must be on the connection that will run its units: the
// statements so far went to old, and to new only when a unit needed them there.
asio::awaitable<bool> Session::prepare_everything_on_new() {
  size_t ambiguous = 0;
  std::string parses = dispatcher_.statements().missing_on_new(ambiguous);
  if (ambiguous > 0) {
    log::warn("prepared_statements_left_behind",
              {{"conn", id_},
               {"statements", ambiguous},
               {"reason", "parsed twice under one name: which text the server kept is unknown"}});
  }
  if (parses.empty()) co_return true;
  protocol::encode(protocol::Sync{}, parses);
  const auto refused = co_await new_side_.run_own(parses);
  if (!refused) {
    new_side_.drop("lost");
    co_return false;
  }
  if (!refused->empty()) {
    log::warn("prepare_for_switch_failed", {{"conn", id_}, {"error", *refused}});
    co_return false;
  }
  dispatcher_.statements().all_on_new();
  co_return true;
}

// Called between transactions with nothing owed on either connection. What belongs to a
// connection moves with its link; what the session knows of each side is turned around here.
void Session::swap_connections() {
  std::swap(primary_, secondary_);
  if (client_key_) context_.cancels.swap_backends(client_key_->process_id);
  dispatcher_.statements().swap_sides();
  pinner_.swap_sides();
  mirror_.roles_swapped();
}

void Session::retire_mirror() {
  mirror_.retire();
  new_side_.retire();
}

}  // namespace cutover::proxy
