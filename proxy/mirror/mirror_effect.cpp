// What of a unit is not mirrored statement for statement: a unit refused before old runs it
// (router/refusals.h), a write mirrored by its effect (effect_planner.h); and how old's errors
// in such units, or in rewritten text, are shown to the client.
#include <algorithm>
#include <utility>

#include "protocol/backend.h"
#include "proxy/base/log.h"
#include "proxy/mirror/mirror.h"
#include "proxy/mirror/mirror_messages.h"

namespace cutover::proxy {

std::function<bool(protocol::ErrorFields&)> Mirror::in_client_text(
    std::string_view sent, std::string_view ran, const router::TextMap& rewrites) {
  return
      [sent = std::string(sent), ran = std::string(ran), rewrites](protocol::ErrorFields& error) {
        for (auto& [code, value] : error.fields) {
          if (code != 'P') continue;
          std::optional<std::string> moved = rewrites.position_in(value, ran, sent);
          if (!moved || *moved == value) return false;
          value = std::move(*moved);
          return true;
        }
        return false;
      };
}

// A refusal is raised by cutover's DO block: the client sees the error, not where it came from
// ("PL/pgSQL function inline_code_block line 1 at RAISE").
bool Mirror::without_context(protocol::ErrorFields& error) {
  return std::erase_if(error.fields, [](const auto& field) { return field.first == 'W'; }) > 0;
}

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
  error_edit_ = without_context;
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
// filter); after_old() makes new's text, and the journal's, from them. A witnessed statement
// (not plan.on_keys) runs on new as on old; the journal gets the client's statement.
asio::awaitable<bool> Mirror::by_effect(const EffectPlanner::Plan& plan, std::string_view sql,
                                        const router::Classification& unit) {
  std::string for_old;
  append_query(for_old, plan.for_old);
  std::string as_statement;  // what new and the journal get should old's answer not serve
  append_query(as_statement, sql);
  effect_ = &plan;
  effect_sql_ = sql;
  const std::string& for_new = plan.on_keys ? as_statement : for_old;
  const bool ran = co_await this->unit({}, for_old, for_new, as_statement, unit);
  effect_ = nullptr;
  co_return ran;
}

ReplyFilter::Holding Mirror::holding() {
  using Taken = ReplyFilter::Taken;
  ReplyFilter::Holding how{.error_edit = std::exchange(error_edit_, nullptr)};
  if (effect_ != nullptr) how.taken = effect_->write.returning ? Taken::kLastColumn : Taken::kRows;
  if (pinned_ != nullptr) {
    how.executes = pinned_->executes;
    how.describes = pinned_->describes;
  }
  return how;
}

Witnessing Mirror::witnessing() const {
  using Taken = ReplyFilter::Taken;
  if (effect_ != nullptr && effect_->witnessed) {
    Witnessing one;
    one.add(0, effect_->write.returning ? Taken::kLastColumn : Taken::kRows, effect_->write.table);
    return one;
  }
  if (pinned_ != nullptr) return pinned_->witnessing;
  if (streamed_witnessing_ != nullptr) return *streamed_witnessing_;
  return {};
}

bool Mirror::keyed_texts(const HeldAnswer& held, std::string& for_new,
                         std::string& for_journal) const {
  if (effect_ != nullptr) {
    const std::optional<EffectPlanner::Texts> texts =
        pinner_.effects().for_new(effect_sql_, *effect_, held.data_rows);
    if (!texts) return false;
    append_query(for_new, texts->for_new);
    append_query(for_journal, texts->for_journal);
    return true;
  }
  if (keyed_.streamed != nullptr) {
    const std::optional<std::string> keyed =
        Pinner::with_streamed_keys(*keyed_.streamed, keyed_.batch, held);
    if (!keyed) return false;
    for_new.assign(keyed_.new_prefix).append(*keyed);
    for_journal.assign(keyed_.journal_prefix).append(*keyed);
    return true;
  }
  const std::optional<Pinner::ForNew> keyed = Pinner::with_keys(*keyed_.pinned, keyed_.batch, held);
  if (!keyed) return false;
  for_new.assign(keyed_.new_prefix).append(keyed->for_new);
  for_journal.assign(keyed_.journal_prefix).append(keyed->for_journal);
  return true;
}

// Old's answer had taken out, per Execute, the rows or last columns cutover asked for: keys of
// writes by their effect, or witnesses. Each is a DataRow of one column (ReplyFilter::Taken).
verify::RowEffects Mirror::effects_of(const HeldAnswer& held, const Witnessing& witnessing) {
  verify::RowEffects effects;
  constexpr size_t kColumnAt = 6;  // after the column count and the column's length
  size_t row = 0;
  for (size_t execute = 0; execute < held.taken_per_execute.size(); ++execute) {
    const size_t end = std::min(row + held.taken_per_execute[execute], held.data_rows.size());
    for (; row < end; ++row) {
      const std::string& body = held.data_rows[row];
      if (witnessing.of(execute).compared && body.size() >= kColumnAt) {
        effects.add(std::string_view(body).substr(kColumnAt));
      }
    }
  }
  return effects;
}

void Mirror::add_new_row(Witnessing::Execute at, std::string_view body, verify::RowSetHasher& rows,
                         verify::RowEffects& effects) {
  const std::optional<size_t> last =
      at.at != ReplyFilter::Taken::kNothing ? protocol::last_column_at('D', body) : std::nullopt;
  constexpr size_t kLength = 4;  // a column's length comes first
  if (!last || body.size() < *last + kLength) {
    rows.add_data_row(body);
    return;
  }
  if (at.compared) effects.add(body.substr(*last + kLength));
  if (at.at == ReplyFilter::Taken::kRows) return;                 // the row is the witness alone
  rows.add_data_row(protocol::without_last_column(body, *last));  // as the client got old's
}

std::optional<router::Refusal> Mirror::data_dependent_refusal(const router::Classification& unit) {
  const std::string& problem = pinner_.data_dependent();
  if (problem.empty()) return std::nullopt;
  if (context_.config.migration.mirror.unsafe_writes == UnsafeWrites::kAllow) {
    pinner_.note_unsafe(unit.fingerprint, problem);
    return std::nullopt;
  }
  router::Refusal refusal = router::data_dependent_refusal(problem);
  note_refused(refusal, unit);
  return refusal;
}

}  // namespace cutover::proxy
