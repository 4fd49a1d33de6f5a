// Pinning in the extended protocol (the rest: pinner.cpp, pinner_defaults.cpp; writes by their
// effect: pinner_effect.cpp; batches sent in pieces: pinner_pieces.cpp). In the extended
// protocol (router/bound_pinning.h), a statement whose values differ per server (now() and its kin,
// an INSERT leaving a serial key, gen_random_uuid() or now() to a column default) is prepared a
// second time, by cutover, as the client's text with those values turned into parameters after the
// client's: now()'s instant, statement_timestamp()'s, then each default old must compute. Each of
// the client's Binds of it becomes a Bind of cutover's statement with those values appended: the
// instants from cutover's clock, the defaults evaluated on old just before (one query per batch, as
// for the simple protocol). Old and new then run the same values. cutover's statement is parsed in
// the batch, just before its first Bind, on each side that lacks it; old's ParseComplete is taken
// out, and counted, which tells whether old has it now.
#include <limits>
#include <unordered_set>

#include "protocol/backend.h"
#include "protocol/framing.h"
#include "protocol/frontend.h"
#include "proxy/base/log.h"
#include "proxy/mirror/mirror_messages.h"
#include "proxy/mirror/pinner.h"
#include "router/bound_pinning.h"
#include "router/pinning.h"

namespace cutover::proxy {
namespace {

// Statements a session has cutover prepare in the place of its own; past it, the session's
// are forgotten (and closed on the servers) and prepared again as they come.
constexpr size_t kMaxPinnings = 512;

}  // namespace

// `batch` (a mirrored batch, old idle) with its Binds of statements that need pinning turned
// into Binds of cutover's statements; nullopt when it has none (or they cannot be pinned:
// then reported).
asio::awaitable<std::optional<Pinner::PinnedBatch>> Pinner::pin_batch(
    std::string_view batch, const router::BatchPlan& plan) {
  if (plan.pinnable.empty() || source_.transaction_status() == 'E') co_return std::nullopt;
  if (!standard_strings_) {
    note_unpinned(plan.unit.fingerprint, "extended protocol: standard_conforming_strings off");
    co_return std::nullopt;
  }
  const bool refreshed = co_await refresh_statements();
  if (!refreshed) co_return std::nullopt;
  std::vector<PinnedUse> uses;
  size_t evaluated = 0;
  for (const router::BatchPlan::Binding& binding : plan.pinnable) {
    PinnedStatement* pin = co_await statement_for(binding);
    if (!pin->unsafe.empty()) {
      note_unsafe(binding.fingerprint, pin->unsafe);
    } else if (!pin->unpinned.empty()) {
      note_unpinned(binding.fingerprint, pin->unpinned);
    }
    if (!pin->data_dependent.empty()) data_dependent_ = pin->data_dependent;
    if (pin->witnessed != nullptr && binding.runs_once && binding.execute >= 0) {
      pin = pin->witnessed;
    }
    if (pin->name.empty() || !keyable(*pin, binding)) continue;
    uses.push_back({&binding, pin});
    evaluated += pin->evaluated.size();
  }
  if (uses.empty()) co_return std::nullopt;
  const auto [transaction, statement] = instants();
  const std::string at_transaction = router::quote_literal(transaction);
  const std::string at_statement = router::quote_literal(statement);
  std::vector<std::string> expressions;
  expressions.reserve(evaluated);
  for (const PinnedUse& use : uses) {
    for (const PinnedStatement::Evaluated& e : use.pin->evaluated) {
      expressions.push_back(
          router::pin_time(e.expression, e.time_calls, at_transaction, at_statement));
    }
  }
  auto values = co_await evaluate(expressions);
  if (!values) {
    note_unpinned(plan.unit.fingerprint, "extended protocol: old did not evaluate the defaults");
    co_return std::nullopt;
  }
  co_return rebind(batch, uses, *values, transaction, statement);
}

// Before cutover's statements are used (old idle): those of an older schema version, or past
// the bound, are forgotten, and those old still has of them closed there. False when old's
// connection failed.
asio::awaitable<bool> Pinner::refresh_statements() {
  if (const uint64_t version = schema_version_.load();
      version != statements_version_ || statements_.size() >= kMaxPinnings) {
    forget_statements();
    statements_version_ = version;
  }
  if (to_close_on_old_.empty()) co_return true;
  std::string closes;
  for (const std::string& name : std::exchange(to_close_on_old_, {})) {
    closes += close_statement(name);
  }
  protocol::encode(protocol::Sync{}, closes);
  const bool closed = co_await source_.run_own(closes);
  co_return closed;
}

// The batch for old, new and the journal, each Bind in `uses` replaced (after cutover's
// statement, on a side that lacks it) and given `values` in order.
Pinner::PinnedBatch Pinner::rebind(std::string_view batch, const std::vector<PinnedUse>& uses,
                                   const Values& values, const std::string& transaction,
                                   const std::string& statement) {
  PinnedBatch out;
  std::vector<router::Replacement> for_old;
  std::vector<router::Replacement> for_new;
  std::vector<router::Replacement> for_journal;
  const std::vector<std::string_view> messages = split_messages(batch);
  std::unordered_set<const PinnedStatement*> prepared_here;
  auto use = uses.begin();
  auto value = values.begin();
  int parses = 0;  // Parse messages before this one in old's batch
  for (size_t i = 0; i < messages.size(); ++i) {
    if (use != uses.end() && use->binding->message == i) {
      PinnedStatement* pin = use->pin;
      const router::BatchPlan::Binding* binding = use->binding;
      const uint64_t fingerprint = binding->fingerprint;
      ++use;
      std::vector<std::optional<std::string>> extra{transaction, statement};
      extra.insert(extra.end(), value, value + static_cast<ptrdiff_t>(pin->evaluated.size()));
      value += static_cast<ptrdiff_t>(pin->evaluated.size());
      auto bind = router::extended_bind(messages[i].substr(5), pin->name, pin->params, extra,
                                        adds_column(*pin));
      if (!bind) {  // not the statement's count: the client's statement answers it
        note_unpinned(fingerprint, "extended protocol: a Bind not of the statement's parameters");
        continue;
      }
      const bool keyed = !pin->new_parse.empty();
      std::string prepare;  // for new and the journal
      if (prepared_here.insert(pin).second) {
        out.used.push_back(pin);
        prepare = close_statement(pin->name) + (keyed ? pin->new_parse : pin->parse);
        if (!pin->on_old) {
          out.parsed_on_old.push_back(pin);
          out.own_parses.push_back(parses++);
        }
      }
      const bool parse_on_old = !prepare.empty() && !pin->on_old;
      const bool parse_on_new = !prepare.empty() && !pin->on_new;
      for_old.push_back({i, (parse_on_old ? pin->parse : std::string()) + *bind});
      if (adds_column(*pin))
        mark_taken({out.executes, out.describes, out.witnessing}, *pin, *binding);
      if (keyed) {  // new's Bind and the journal's wait for old's keys (with_keys())
        out.keyed.push_back({pin->name, pin->params, std::string(messages[i].substr(5)),
                             std::move(extra), binding->execute,
                             parse_on_new ? prepare : std::string(), prepare, for_new.size(),
                             for_journal.size(), !pin->witnesses_of.empty()});
        for_new.push_back({i, {}});
        for_journal.push_back({i, {}});
        continue;
      }
      for_new.push_back({i, (parse_on_new ? prepare : std::string()) + *bind});
      for_journal.push_back({i, prepare + *bind});
      continue;
    }
    if (messages[i].starts_with('P')) ++parses;
  }
  for (const std::string& name : std::exchange(to_close_on_new_, {})) {
    out.for_new += close_statement(name);
  }
  out.for_old = router::replace_messages(batch, for_old);
  if (!out.keyed.empty()) {
    out.new_closes = std::move(out.for_new);
    out.new_replacements = std::move(for_new);
    out.journal_replacements = std::move(for_journal);
    out.for_new.clear();
    return out;
  }
  out.for_new += router::replace_messages(batch, for_new);
  out.for_journal = router::replace_messages(batch, for_journal);
  return out;
}

// After the pinned batch ran: cutover's statements old parsed (`parse_completes` of its
// ParseCompletes were taken out, in order) and, when new ran it whole, those new has.
void Pinner::batch_ran(const PinnedBatch& pinned, uint64_t parse_completes, bool ran_on_new) {
  for (size_t i = 0; i < pinned.parsed_on_old.size() && i < parse_completes; ++i) {
    pinned.parsed_on_old[i]->on_old = true;
  }
  if (!ran_on_new) return;
  for (PinnedStatement* pin : pinned.used) pin->on_new = true;
}

// What cutover prepares in place of the client's statement `binding.parse`: worked out once
// per session and statement (from its parse tree and old's catalog), then kept.
asio::awaitable<Pinner::PinnedStatement*> Pinner::statement_for(
    const router::BatchPlan::Binding& binding) {
  if (auto it = statements_.find(binding.parse); it != statements_.end()) {
    co_return &it->second;
  }
  PinnedStatement& pin = statements_[binding.parse];
  auto decoded = protocol::decode_frontend('P', std::string_view(binding.parse).substr(5));
  const protocol::Parse* parse = decoded ? std::get_if<protocol::Parse>(&*decoded) : nullptr;
  const std::optional<size_t> highest =
      parse != nullptr ? router::highest_parameter(parse->query) : std::nullopt;
  auto found = highest ? router::find_nondeterminism(parse->query) : std::nullopt;
  if (!found) {
    pin.unpinned = "extended protocol: unparsed";
    co_return &pin;
  }
  pin.params = std::max(*highest, parse->parameter_types.size());
  const std::string transaction = router::parameter(pin.params + 1);
  const std::string statement = router::parameter(pin.params + 2);
  if (!found->unpinnable.empty()) pin.unpinned = calls(found->unpinnable);
  if (!found->unsafe.empty()) pin.unsafe = calls(found->unsafe);
  if (!found->other_calls.empty()) {
    const std::string volatile_ones = co_await volatile_calls(found->other_calls);
    if (!volatile_ones.empty()) {
      pin.unpinned += (pin.unpinned.empty() ? "" : ", ") + volatile_ones;
      pin.unsafe += (pin.unsafe.empty() ? "" : ", ") + volatile_ones;
    }
  }
  std::string text = parse->query;
  bool changed = !found->time_calls.empty();
  if (changed) text = router::pin_time(text, found->time_calls, transaction, statement);
  auto plan = co_await plan_defaults(text, binding.fingerprint, transaction, statement);
  if (plan) {
    if (!plan->unpinned.empty()) {
      pin.unpinned += (pin.unpinned.empty() ? "" : ", ") + plan->unpinned;
      pin.unsafe += (pin.unsafe.empty() ? "" : ", ") + plan->unpinned;
    }
    if (!plan->unknown.empty()) {  // old refuses the Parse itself
      pin.unpinned += (pin.unpinned.empty() ? "" : ", ") + plan->unknown;
    }
    for (const DefaultsPlan::Evaluation& e : plan->evaluated) {
      const size_t n = pin.params + 3 + pin.evaluated.size();
      plan->filled[e.slot].value = "CAST(" + router::parameter(n) + " AS " + e.column->type + ")";
      pin.evaluated.push_back({e.column->default_expression, e.kind->time_calls});
    }
    if (!plan->filled.empty()) {
      text = router::fill_defaults(text, plan->shapes, plan->tables, plan->filled);
      changed = true;
    }
  }
  EffectPlanner::Verdict verdict =
      co_await effects_.judge_statement(text, binding.fingerprint, witnessing_);
  settle_statement(pin, binding.parse, text, changed, std::move(verdict), parse->parameter_types);
  co_return &pin;
}

void Pinner::name_statement(PinnedStatement& pin, std::string_view text,
                            const std::optional<EffectTexts>& effect,
                            const std::vector<int32_t>& types) {
  pin.name = "cutover_pin_" + std::to_string(++names_given_);
  const size_t extra = 2 + pin.evaluated.size();
  pin.parse =
      router::extended_parse(pin.name, effect ? effect->for_old : text, types, pin.params, extra);
  if (effect) {  // the keys come last
    pin.new_parse = router::extended_parse(pin.name, effect->for_new, types, pin.params, extra + 1);
  }
}

}  // namespace cutover::proxy
