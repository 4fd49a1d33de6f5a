// Pinning in a batch that goes to old in pieces (the rest: pinner_extended.cpp).
#include <utility>

#include "protocol/frontend.h"
#include "proxy/mirror/mirror_messages.h"
#include "proxy/mirror/pinner.h"
#include "router/bound_pinning.h"
#include "router/pinning.h"

namespace cutover::proxy {
namespace {

// Whether statements of this kind are pinned in batches that go to old in pieces: those
// mirrored (a read there is not, and may never learn whether old prepared cutover's statement).
bool pinned_kind(router::Kind kind) {
  return kind == router::Kind::kWrite || kind == router::Kind::kUnknown;
}

}  // namespace

// A batch that goes to old in pieces (it has a Flush: asyncpg prepares a statement with
// Parse, Describe, Flush, then binds it in the same batch) cannot stop for cutover's questions
// to old once it has begun. So before its first piece goes out, while old is idle, cutover
// asks for the values old must compute: for each Bind in the piece, and for one later
// execution of each statement the piece parses. A value asked for and never used leaves a gap
// in old's sequence, as a rolled-back insert does.
std::vector<router::BatchPlan::Binding> Pinner::prefetch_wanted(
    std::string_view piece, const router::BatchPlan& plan) const {
  if (source_.transaction_status() == 'E' || !standard_strings_) return {};
  std::vector<router::BatchPlan::Binding> wanted = plan.pinnable;
  const std::vector<std::string_view> messages = split_messages(piece);
  auto parsed = plan.parsed.begin();
  for (size_t i = 0; i < messages.size() && parsed != plan.parsed.end(); ++i) {
    if (!messages[i].starts_with('P')) continue;
    const router::Classification& unit = *parsed++;
    if (unit.nondeterministic || unit.inserts || unit.changes_rows) {
      wanted.push_back({i, std::string(messages[i]), unit.fingerprint, unit.kind});
    }
  }
  std::erase_if(wanted, [&](const auto& binding) { return !pinned_kind(binding.kind); });
  return wanted;
}

// Asks the source (idle) for the values of prefetch_wanted(); false when its connection failed.
asio::awaitable<bool> Pinner::prefetch(const std::vector<router::BatchPlan::Binding>& wanted) {
  constexpr size_t kMaxPrefetched = 4;  // executions' worth per statement
  const bool refreshed = co_await refresh_statements();
  if (!refreshed || source_.transaction_status() == 'E') co_return refreshed;
  std::vector<PinnedStatement*> pins;
  std::vector<std::string> expressions;
  const auto [transaction, statement] = instants();
  for (const router::BatchPlan::Binding& binding : wanted) {
    PinnedStatement* pin = co_await statement_for(binding);
    if (pin->name.empty() || pin->evaluated.empty() || pin->prefetched.size() >= kMaxPrefetched) {
      continue;
    }
    pins.push_back(pin);
    for (const PinnedStatement::Evaluated& e : pin->evaluated) {
      expressions.push_back(router::pin_time(e.expression, e.time_calls,
                                             router::quote_literal(transaction),
                                             router::quote_literal(statement)));
    }
  }
  auto values = co_await evaluate(expressions);
  if (!values) co_return true;  // the Binds go unpinned, and are reported then
  auto value = values->begin();
  for (PinnedStatement* pin : pins) {
    const auto count = static_cast<ptrdiff_t>(pin->evaluated.size());
    pin->prefetched.emplace_back(value, value + count);
    value += count;
  }
  co_return true;
}

// `piece` (planned as `plan`), part of a batch going to old in pieces, with its Binds of
// statements that need pinning turned into Binds of cutover's statements, using prefetched
// values; nullopt when nothing changes.
std::optional<Pinner::PinnedPiece> Pinner::pin_piece(std::string_view piece,
                                                     const router::BatchPlan& plan,
                                                     bool by_effect) {
  // Where the piece's Executes and Describes stand among the whole batch's.
  const int executes_before =
      std::exchange(streamed_executes_, streamed_executes_ + plan.execute_count);
  const int describes_before =
      std::exchange(streamed_describes_, streamed_describes_ + plan.describe_count);
  if (plan.pinnable.empty()) return std::nullopt;
  PinnedPiece out;
  std::vector<router::Replacement> for_old;
  std::vector<router::Replacement> for_new;
  const std::vector<std::string_view> messages = split_messages(piece);
  const auto [transaction, statement] = instants();
  size_t counted = 0;  // messages whose Parses are in `parses`
  int parses = 0;      // Parse messages before the current one in what old gets of the piece
  for (const router::BatchPlan::Binding& binding : plan.pinnable) {
    if (!pinned_kind(binding.kind)) continue;
    for (; counted < binding.message; ++counted) parses += messages[counted].starts_with('P');
    PinnedStatement* pin = nullptr;
    if (auto known = statements_.find(binding.parse); known != statements_.end()) {
      pin = &known->second;
    } else {
      pin = statement_known_now(binding);
    }
    // A write by its effect needs its Bind and whole Execute in the piece, and the answer
    // watched (`by_effect`); else it runs as a statement, an open divergence.
    const bool keyed = pin != nullptr && !pin->new_parse.empty();
    if (pin != nullptr && (!pin->data_dependent.empty() ||
                           (keyed && !(by_effect && binding.runs_once && binding.execute >= 0)))) {
      streamed_unpinned_ = streamed_unsafe_ = true;
      report_unpinned(binding.fingerprint,
                      "extended protocol: a write by its effect not executed once, whole, with "
                      "its Bind");
      continue;
    }
    std::optional<std::string> bind;
    std::vector<std::optional<std::string>> extra{transaction, statement};
    if (pin != nullptr && !pin->name.empty() &&
        (pin->evaluated.empty() || !pin->prefetched.empty())) {
      if (!pin->evaluated.empty()) {
        auto& values = pin->prefetched.front();
        extra.insert(extra.end(), values.begin(), values.end());
        pin->prefetched.pop_front();
      }
      bind = router::extended_bind(messages[binding.message].substr(5), pin->name, pin->params,
                                   extra, adds_column(*pin));
    }
    const bool nothing_to_pin = pin != nullptr && pin->name.empty() && pin->unpinned.empty();
    if (!nothing_to_pin && (!bind || !pin->unpinned.empty())) {
      streamed_unpinned_ = true;
      // Stored values differ, unless all it leaves unpinned is in a plain SELECT.
      streamed_unsafe_ |= pin == nullptr || (!bind && !pin->name.empty()) || !pin->unsafe.empty();
      report_unpinned(binding.fingerprint, pin != nullptr && !pin->unpinned.empty()
                                               ? pin->unpinned
                                               : "extended protocol: a batch sent in pieces");
    }
    if (!bind) continue;
    std::string prepare_on_old;
    if (!pin->on_old) {
      prepare_on_old = pin->parse;
      pin->on_old = true;
      streamed_.push_back(pin);
      out.own_parses.push_back(parses++);
    }
    for_old.push_back({binding.message, prepare_on_old + *bind});
    // New's Bind of a write by its effect gets its keys at the Sync (with_streamed_keys()).
    for_new.push_back({binding.message,
                       close_statement(pin->name) + (keyed ? pin->new_parse : pin->parse) + *bind});
    if (keyed) {
      streamed_keyed_.push_back({.statement = pin->name,
                                 .params = pin->params,
                                 .bind = std::string(messages[binding.message].substr(5)),
                                 .extra = std::move(extra),
                                 .execute = executes_before + binding.execute,
                                 .witnessed = !pin->witnesses_of.empty()});
      mark_taken(
          {out.executes, out.describes, streamed_witnessing_, executes_before, describes_before},
          *pin, binding);
    }
  }
  if (for_old.empty()) return std::nullopt;
  out.for_new = router::replace_messages(piece, for_new);
  out.for_old = router::replace_messages(piece, for_old);
  return out;
}

void Pinner::piece_unpinned(const router::BatchPlan& plan) {
  streamed_executes_ += plan.execute_count;
  streamed_describes_ += plan.describe_count;
  for (const router::BatchPlan::Binding& binding : plan.pinnable) {
    auto known = statements_.find(binding.parse);
    if (!pinned_kind(binding.kind) || (known != statements_.end() && known->second.name.empty() &&
                                       known->second.data_dependent.empty())) {
      continue;  // nothing to pin
    }
    streamed_unpinned_ = streamed_unsafe_ = true;
    report_unpinned(binding.fingerprint, "extended protocol: a piece sent as it came");
  }
}

// The batch that went to old in pieces is over. cutover's statements it prepared on old are
// there when their ParseComplete came (`parse_completes` of them, in order, were taken out);
// the others are closed, in case, and prepared again when next needed.
Pinner::StreamedBatch Pinner::streamed_batch_over(uint64_t parse_completes) {
  const std::vector<PinnedStatement*> streamed = std::exchange(streamed_, {});
  for (size_t i = parse_completes; i < streamed.size(); ++i) {
    streamed[i]->on_old = false;
    to_close_on_old_.push_back(streamed[i]->name);
  }
  streamed_unpinned_ = false;
  streamed_unsafe_ = false;
  streamed_executes_ = streamed_describes_ = 0;
  return {std::exchange(streamed_keyed_, {}), std::exchange(streamed_witnessing_, {})};
}

}  // namespace cutover::proxy
