// What of a unit is not mirrored statement for statement: a unit refused before old runs it
// (router/refusals.h), and a write mirrored by its effect (effect_planner.h).
#include "proxy/base/log.h"
#include "proxy/mirror/mirror.h"
#include "proxy/mirror/mirror_messages.h"

namespace cutover::proxy {

asio::awaitable<bool> Mirror::refuse_batch(const router::Refusal& refusal,
                                           const router::Classification& unit,
                                           std::string& pending) {
  const bool forwarded = co_await host_.forward_to_old(pending);
  if (!forwarded) co_return false;
  --primary_.pending_replies;  // its Sync, counted when the client sent it
  const bool idle = co_await host_.wait_for_old();
  if (!idle) co_return false;
  refused_ = true;
  const bool refused = co_await refuse(refusal, unit);
  co_return refused;
}

std::optional<router::Refusal> Mirror::unsafe_refusal(const router::Classification& unit) {
  if (pinner_.unsafe().empty() ||
      context_.config.migration.mirror.unsafe_writes != UnsafeWrites::kRefuse) {
    return std::nullopt;
  }
  router::Refusal refusal = router::unsafe_write_refusal(pinner_.unsafe());
  note_refused(refusal, unit);
  return refusal;
}

// Old raises the refusal in the unit's place, as a unit of its own that fails (so a wrapped
// one is rolled back, and a transaction is failed as by any error of old's); new never sees it.
asio::awaitable<bool> Mirror::refuse(const router::Refusal& refusal,
                                     const router::Classification& unit) {
  std::string raising;
  append_query(raising, router::raising_statement(refusal));
  const std::vector<int> no_parses;
  const bool ran = co_await this->unit({}, raising, {}, {}, unit, no_parses);
  co_return ran;
}

void Mirror::note_refused(const router::Refusal& refusal, const router::Classification& unit) {
  context_.metrics.refused(refusal.reason);
  log::warn("unit_refused", {{"conn", conn_id_},
                             {"fingerprint", log::hex(unit.fingerprint)},
                             {"reason", router::reason_name(refusal.reason)},
                             {"message", refusal.message}});
}

// Old runs the write returning its rows' keys (taken out of the client's stream by the reply
// filter); after_old() makes new's text, and the journal's, from them.
asio::awaitable<bool> Mirror::by_effect(const EffectPlanner::Plan& plan, std::string_view sql,
                                        const router::Classification& unit) {
  std::string for_old;
  append_query(for_old, plan.for_old);
  std::string as_statement;  // what new and the journal get should old's answer not serve
  append_query(as_statement, sql);
  effect_ = &plan;
  effect_sql_ = sql;
  const bool ran = co_await this->unit({}, for_old, as_statement, as_statement, unit);
  effect_ = nullptr;
  co_return ran;
}

}  // namespace cutover::proxy
