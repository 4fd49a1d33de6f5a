// Writes mirrored by their effect in the extended protocol (effect_planner.h for which ones).
// cutover prepares such a statement as two texts under one name: on old, the client's text
// returning the keys of the rows it changed; on new, the client's text on those keys, given as
// one more parameter. Each Bind of it goes to old at once; new's Bind is made once old has
// answered, from the keys its Execute returned. The reply filter takes the keys out of old's
// answer (Describe answers too, so the client sees its own statement's row shape).
#include "proxy/mirror/pinner.h"

namespace cutover::proxy {

asio::awaitable<std::optional<Pinner::EffectTexts>> Pinner::effect_texts(PinnedStatement& pin,
                                                                         std::string_view text,
                                                                         uint64_t fingerprint) {
  EffectPlanner::Verdict verdict = co_await effects_.judge_statement(text, fingerprint);
  pin.data_dependent = std::move(verdict.problem);
  if (!verdict.plan) co_return std::nullopt;
  const EffectPlanner::Plan& plan = *verdict.plan;
  pin.returning = plan.write.returning;
  // After the client's parameters, the two instants and the evaluated defaults.
  const size_t keys = pin.params + 3 + pin.evaluated.size();
  co_return EffectTexts{plan.for_old, router::on_key_parameter(text, plan.write, plan.key, keys)};
}

// The keys of one Execute are those its rows returned: a portal executed once, whole.
bool Pinner::keyable(const PinnedStatement& pin, const router::BatchPlan::Binding& binding) {
  if (pin.new_parse.empty() || (binding.runs_once && binding.execute >= 0)) return true;
  note_unsafe(binding.fingerprint,
              "extended protocol: a write by its effect not executed once, whole, in its batch");
  return false;
}

void Pinner::set_taken(PinnedBatch& out, const PinnedStatement& pin,
                       const router::BatchPlan::Binding& binding) {
  using Taken = ReplyFilter::Taken;
  const Taken taken = pin.returning ? Taken::kLastColumn : Taken::kRows;
  auto mark = [&](std::vector<Taken>& answers, int at) {
    const auto place = static_cast<size_t>(at);
    if (answers.size() <= place) answers.resize(place + 1, Taken::kNothing);
    answers[place] = taken;
  };
  mark(out.executes, binding.execute);
  for (const int describe : binding.describes) mark(out.describes, describe);
}

std::optional<Pinner::ForNew> Pinner::with_keys(const PinnedBatch& pinned, std::string_view batch,
                                                const HeldAnswer& old_answer) {
  std::vector<router::Replacement> to_new = pinned.new_replacements;
  std::vector<router::Replacement> to_journal = pinned.journal_replacements;
  const std::vector<size_t>& counts = old_answer.taken_per_execute;
  for (const PinnedBatch::KeyedBind& keyed : pinned.keyed) {
    const auto execute = static_cast<size_t>(keyed.execute);
    if (execute >= counts.size()) return std::nullopt;
    size_t first = 0;  // its rows' place among all that were taken
    for (size_t i = 0; i < execute; ++i) first += counts[i];
    std::optional<std::string> keys =
        EffectPlanner::keys_array(old_answer.data_rows, first, counts[execute]);
    if (!keys) return std::nullopt;
    std::vector<std::optional<std::string>> extra = keyed.extra;
    extra.emplace_back(std::move(*keys));
    std::optional<std::string> bind =
        router::extended_bind(keyed.bind, keyed.pin->name, keyed.pin->params, extra);
    if (!bind) return std::nullopt;
    to_new[keyed.at_new].bytes = keyed.new_parse + *bind;
    to_journal[keyed.at_journal].bytes = keyed.journal_parse + *bind;
  }
  return ForNew{pinned.new_closes + router::replace_messages(batch, to_new),
                router::replace_messages(batch, to_journal)};
}

}  // namespace cutover::proxy
