// A session's side of a role switch (proxy/role_switch.cpp). At the start of each unit the
// session compares its roles with the process's: while a switch holds sessions, it waits there
// (between transactions, nothing in flight); once the roles changed, its relay stops, the two
// connections trade places (promotion, rollback after it) or the mirror's is closed
// (decommission), and the relay starts again on the same client connection. Both servers keep
// their sessions, so settings, temporary tables and prepared statements stay.
#include "proxy/log.h"
#include "proxy/session.h"

namespace cutover::proxy {

using Clock = std::chrono::steady_clock;

bool Session::at_switch_point() const {
  return idle() && batch_.empty() && !batch_to_old_ && !copy_in_ && !copy_mirrored_ &&
         mirror_pending_.empty() && !awaiting_old_ && !old_chunk_unsent_ && !client_writes_held_;
}

void Session::end_for_switch() {
  if (at_switch_point()) return;
  log::warn("session_ended_for_switch",
            {{"conn", id_}, {"transaction_status", std::string(1, transaction_status_)}});
  switch_timed_out_ = true;
  terminate();
}

void Session::release_hold() { hold_signal_.cancel(); }

// A mirror retired by a decommission cannot come back (no phase leads back to mirroring).
bool Session::roles_changed() const {
  const RoleSet wanted = context_.roles.current();
  return wanted.serving != primary_ || (!wanted.mirroring && !mirror_retired_);
}

asio::awaitable<void> Session::wait_while_held() {
  while (context_.roles.holding()) {
    hold_signal_.expires_at(Clock::time_point::max());
    co_await hold_signal_.async_wait();
    auto state = co_await asio::this_coro::cancellation_state;
    if (state.cancelled() != asio::cancellation_type::none) co_return;
  }
}

asio::awaitable<bool> Session::switch_roles() {
  const RoleSet wanted = context_.roles.current();
  if (wanted.serving != primary_) {
    if (!new_ready_ || mirror_retired_) {
      log::warn("session_switch_impossible",
                {{"conn", id_}, {"serving", router::to_string(wanted.serving)}});
      co_return false;
    }
    const bool drained = co_await drain_new();
    if (!drained) co_return false;
    const bool prepared = co_await prepare_everything_on_new();
    if (!prepared) co_return false;
    swap_connections();
  }
  if (!wanted.mirroring && !mirror_retired_) retire_mirror();
  log::info(
      "session_switched",
      {{"conn", id_}, {"serving", router::to_string(primary_)}, {"mirroring", !mirror_retired_}});
  co_return true;
}

// Every statement the client prepared must be on the connection that will run its units: the
// statements so far went to old, and to new only when a unit needed them there.
asio::awaitable<bool> Session::prepare_everything_on_new() {
  size_t ambiguous = 0;
  std::string parses = statements_.missing_on_new(ambiguous);
  if (ambiguous > 0) {
    log::warn("prepared_statements_left_behind",
              {{"conn", id_},
               {"statements", ambiguous},
               {"reason", "parsed twice under one name: which text the server kept is unknown"}});
  }
  if (parses.empty()) co_return true;
  protocol::encode(protocol::Sync{}, parses);
  const auto refused = co_await run_own_on_new(parses);
  if (!refused) {
    drop_new("lost");
    co_return false;
  }
  if (!refused->empty()) {
    log::warn("prepare_for_switch_failed", {{"conn", id_}, {"error", *refused}});
    co_return false;
  }
  statements_.all_on_new();
  co_return true;
}

// Called between transactions with nothing owed on either connection.
void Session::swap_connections() {
  std::swap(backend_, new_backend_);
  backend_in_ = std::exchange(new_in_, {});
  std::swap(primary_identity_, new_identity_);
  std::swap(primary_key_, new_key_);
  if (client_key_) context_.cancels.swap_backends(client_key_->process_id);
  primary_ = router::other(primary_);
  statements_.swap_sides();
  for (auto& [parse, pin] : bound_pinnings_) std::swap(pin.on_old, pin.on_new);
  std::swap(pinned_to_close_on_old_, pinned_to_close_on_new_);
  forget_table_defaults();  // read from the other database's catalog until now
  new_status_ = 'I';
  new_transaction_id_ = 0;
}

void Session::retire_mirror() {
  mirror_retired_ = true;
  new_wanted_ = false;
  drop_new("decommissioned");
  session_log_.clear();
}

}  // namespace cutover::proxy
