// Writes mirrored by their effect in the extended protocol (effect_planner.h for which ones).
// cutover prepares such a statement as two texts under one name: on old, the client's text
// returning the keys of the rows it changed; on new, the client's text on those keys, given as
// one more parameter. Each Bind of it goes to old at once; new's Bind is made once old has
// answered, from the keys its Execute returned. The reply filter takes the keys out of old's
// answer (Describe answers too, so the client sees its own statement's row shape).
#include <utility>
#include <variant>

#include "protocol/frontend.h"
#include "proxy/mirror/mirror_messages.h"
#include "proxy/mirror/pinner.h"
#include "router/pinning.h"

namespace cutover::proxy {

std::optional<Pinner::EffectTexts> Pinner::effect_texts(PinnedStatement& pin, std::string_view text,
                                                        EffectPlanner::Verdict verdict) {
  pin.data_dependent = std::move(verdict.problem);
  if (!verdict.plan) return std::nullopt;
  const EffectPlanner::Plan& plan = *verdict.plan;
  pin.returning = plan.write.returning;
  if (plan.witnessed) pin.witnesses_of = plan.write.table;
  // After the client's parameters, the two instants and the evaluated defaults.
  const size_t keys = pin.params + 3 + pin.evaluated.size();
  return EffectTexts{plan.for_old,
                     router::on_key_parameter(text, plan.write, plan.key, keys, plan.witnessed)};
}

void Pinner::settle_statement(PinnedStatement& pin, const std::string& parse, std::string_view text,
                              bool changed, EffectPlanner::Verdict verdict,
                              const std::vector<int32_t>& types) {
  if (verdict.plan && !verdict.plan->on_keys) {           // run as it is, returning witnesses
    PinnedStatement& variant = statements_["w" + parse];  // no Parse message starts so
    variant.params = pin.params;
    variant.evaluated = pin.evaluated;
    variant.unpinned = pin.unpinned;
    variant.unsafe = pin.unsafe;
    variant.returning = verdict.plan->write.returning;
    variant.witnesses_of = verdict.plan->write.table;
    name_statement(variant, verdict.plan->for_old, std::nullopt, types);
    pin.witnessed = &variant;
    verdict.plan.reset();
  }
  const std::optional<EffectTexts> effect = effect_texts(pin, text, std::move(verdict));
  if (changed || effect) name_statement(pin, text, effect, types);
}

// In a later piece of a batch sent in pieces old cannot be asked: only an UPDATE or DELETE with
// nothing else to pin, on a table whose key the session knows, is worked out there.
Pinner::PinnedStatement* Pinner::statement_known_now(const router::BatchPlan::Binding& binding) {
  auto decoded = protocol::decode_frontend('P', std::string_view(binding.parse).substr(5));
  const protocol::Parse* parse = decoded ? std::get_if<protocol::Parse>(&*decoded) : nullptr;
  if (parse == nullptr || !router::find_row_write(parse->query)) return nullptr;
  const std::optional<size_t> highest = router::highest_parameter(parse->query);
  const auto found = router::find_nondeterminism(parse->query);
  if (!highest || !found || !found->time_calls.empty() || !found->unpinnable.empty()) {
    return nullptr;
  }
  std::optional<EffectPlanner::Verdict> verdict =
      effects_.judge_known(parse->query, binding.fingerprint, witnessing_);
  if (!verdict) return nullptr;
  PinnedStatement& pin = statements_[binding.parse];
  pin.params = std::max(*highest, parse->parameter_types.size());
  settle_statement(pin, binding.parse, parse->query, false, std::move(*verdict),
                   parse->parameter_types);
  return &pin;
}

// The keys of one Execute are those its rows returned: a portal executed once, whole. (A
// statement's witnessed variant is used only there too.)
bool Pinner::keyable(const PinnedStatement& pin, const router::BatchPlan::Binding& binding) {
  if (pin.new_parse.empty() || (binding.runs_once && binding.execute >= 0)) return true;
  note_unsafe(binding.fingerprint,
              "extended protocol: a write by its effect not executed once, whole, in its batch");
  return false;
}

void Pinner::mark_taken(const Taking& taking, const PinnedStatement& pin,
                        const router::BatchPlan::Binding& binding) {
  using Taken = ReplyFilter::Taken;
  const Taken taken = pin.returning ? Taken::kLastColumn : Taken::kRows;
  auto mark = [&](std::vector<Taken>& answers, int at) {
    const auto place = static_cast<size_t>(at);
    if (answers.size() <= place) answers.resize(place + 1, Taken::kNothing);
    answers[place] = taken;
  };
  const int execute = taking.executes_before + binding.execute;
  mark(taking.executes, execute);
  for (const int describe : binding.describes) {
    mark(taking.describes, taking.describes_before + describe);
  }
  if (!pin.witnesses_of.empty()) {
    taking.witnessing.add(static_cast<size_t>(execute), taken, pin.witnesses_of);
  }
}

std::optional<std::string> Pinner::keyed_bind(const PinnedBatch::KeyedBind& keyed,
                                              const HeldAnswer& old_answer) {
  const std::vector<size_t>& counts = old_answer.taken_per_execute;
  const auto execute = static_cast<size_t>(keyed.execute);
  if (execute >= counts.size()) return std::nullopt;
  size_t first = 0;  // its rows' place among all that were taken
  for (size_t i = 0; i < execute; ++i) first += counts[i];
  std::optional<std::string> keys =
      EffectPlanner::keys_array(old_answer.data_rows, first, counts[execute]);
  if (!keys) return std::nullopt;
  std::vector<std::optional<std::string>> extra = keyed.extra;
  extra.emplace_back(std::move(*keys));
  return router::extended_bind(keyed.bind, keyed.statement, keyed.params, extra, keyed.witnessed);
}

std::optional<Pinner::ForNew> Pinner::with_keys(const PinnedBatch& pinned, std::string_view batch,
                                                const HeldAnswer& old_answer) {
  std::vector<router::Replacement> to_new = pinned.new_replacements;
  std::vector<router::Replacement> to_journal = pinned.journal_replacements;
  for (const PinnedBatch::KeyedBind& keyed : pinned.keyed) {
    std::optional<std::string> bind = keyed_bind(keyed, old_answer);
    if (!bind) return std::nullopt;
    to_new[keyed.at_new].bytes = keyed.new_parse + *bind;
    to_journal[keyed.at_journal].bytes = keyed.journal_parse + *bind;
  }
  return ForNew{pinned.new_closes + router::replace_messages(batch, to_new),
                router::replace_messages(batch, to_journal)};
}

// The keyed Binds stand in `batch` as Binds of their statements' names, in order.
std::optional<std::string> Pinner::with_streamed_keys(
    const std::vector<PinnedBatch::KeyedBind>& keyed, std::string_view batch,
    const HeldAnswer& old_answer) {
  std::vector<router::Replacement> replacements;
  auto next = keyed.begin();
  const std::vector<std::string_view> messages = split_messages(batch);
  for (size_t i = 0; i < messages.size() && next != keyed.end(); ++i) {
    if (!messages[i].starts_with('B')) continue;
    auto decoded = protocol::decode_frontend('B', messages[i].substr(5));
    const auto* bind = decoded ? std::get_if<protocol::Bind>(&*decoded) : nullptr;
    if (bind == nullptr || bind->statement != next->statement) continue;
    std::optional<std::string> with_keys = keyed_bind(*next++, old_answer);
    if (!with_keys) return std::nullopt;
    replacements.push_back({i, std::move(*with_keys)});
  }
  if (next != keyed.end()) return std::nullopt;
  return router::replace_messages(batch, replacements);
}

}  // namespace cutover::proxy
