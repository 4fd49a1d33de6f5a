// libFuzzer target: extended-query batches from arbitrary bytes. The input is cut into
// messages (a type byte from the extended-query set, a length byte, that many body bytes), so
// the fuzzer reaches the batch logic instead of failing framing. Planning and recording never
// crash; a plan's prefixes are whole messages; a batch planned again right after it was
// recorded on both sides needs no prefix for new. The same bytes, read as old's answers and
// relayed through ReplyFilter with one edit, lose only whole messages and gain none. Binds
// turned into Binds of cutover's pinning statements stay well-formed.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "protocol/framing.h"
#include "protocol/frontend.h"
#include "proxy/link/reply_filter.h"
#include "router/bound_pinning.h"
#include "router/extended.h"

namespace {

void check(bool ok) {
  if (!ok) __builtin_trap();
}

std::string message(char type, std::string_view body) {
  std::string out(1, type);
  auto length = static_cast<uint32_t>(body.size() + 4);
  for (int shift = 24; shift >= 0; shift -= 8) out += static_cast<char>(length >> shift);
  out += body;
  return out;
}

// Whether `bytes` is a sequence of whole messages.
bool whole_messages(std::string_view bytes) {
  while (!bytes.empty()) {
    auto frame = cutover::protocol::next_frame(bytes, size_t{1} << 20);
    if (frame.status != cutover::protocol::FrameStatus::kFrame) return false;
    bytes.remove_prefix(frame.consumed);
  }
  return true;
}

// Every Bind turned into a Bind of cutover's statement (router/bound_pinning.h) decodes to
// the client's values plus the extra ones, whose format is text; the batch with
// those Binds replaced is still whole messages.
void check_rebinding(std::string_view batch) {
  const std::vector<std::optional<std::string>> extra{"2026-01-01 00:00:00+00", std::nullopt};
  std::vector<cutover::router::Replacement> replacements;
  std::string_view rest = batch;
  for (size_t message = 0;; ++message) {
    auto frame = cutover::protocol::next_frame(rest, size_t{1} << 20);
    if (frame.status != cutover::protocol::FrameStatus::kFrame) break;
    rest.remove_prefix(frame.consumed);
    if (frame.type != 'B') continue;
    auto client = cutover::protocol::decode_frontend('B', frame.body);
    if (!client) continue;
    const size_t params = std::get<cutover::protocol::Bind>(*client).parameters.size();
    auto bind = cutover::router::extended_bind(frame.body, "pin", params, extra);
    if (!bind) continue;
    auto decoded = cutover::protocol::decode_frontend('B', std::string_view(*bind).substr(5));
    check(decoded.has_value());
    const auto& pinned = std::get<cutover::protocol::Bind>(*decoded);
    check(pinned.statement == "pin" && pinned.parameters.size() == params + extra.size());
    // No code, one text code for all, or one code per value, the extra ones text.
    const auto& formats = pinned.parameter_formats;
    check(formats.empty() || (formats.size() == 1 && formats[0] == 0) ||
          (formats.size() == params + extra.size() && formats.back() == 0));
    replacements.push_back({message, *bind});
  }
  check(whole_messages(cutover::router::replace_messages(batch, replacements)));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static constexpr char kTypes[] = "PBDECSH1Z";
  std::string batch;
  for (size_t at = 0; at + 2 <= size;) {
    char type = kTypes[data[at] % (sizeof kTypes - 1)];
    size_t length = std::min<size_t>(data[at + 1], size - at - 2);
    batch += message(type, {reinterpret_cast<const char*>(data + at + 2), length});
    at += 2 + length;
  }
  static const cutover::router::Classifier classifier;
  cutover::router::ClassificationCache cache(classifier, 16);
  auto classify = [&](std::string_view sql) -> const cutover::router::Classification& {
    return cache.classify(sql);
  };
  cutover::router::PreparedStatements statements;
  auto plan = statements.plan(batch, classify);
  check(whole_messages(plan.new_prefix) && whole_messages(plan.old_prefix));
  statements.apply(batch, plan, true, true);
  if (plan.movable) check(statements.plan(batch, classify).new_prefix.empty());

  check_rebinding(batch);

  cutover::proxy::ReplyFilter filter;
  const int units_before = data[0] % 3;
  using Taken = cutover::proxy::ReplyFilter::Taken;
  // Per Execute and Describe of a batch (writes by their effect among others).
  const std::vector<Taken> answers = {Taken::kNothing, Taken::kRows, Taken::kLastColumn};
  switch (size > 2 ? data[2] % 4 : 0) {
    case 0:
      filter.drop_parse_complete(units_before, size > 1 ? data[1] % 3 : 0);
      break;
    case 1:
      filter.drop_answer(units_before);
      break;
    case 2:
      filter.observe(units_before);  // a batch sent in pieces, held at its Sync
      filter.take_also(units_before, answers, answers);
      filter.hold_ready(units_before);
      break;
    default:
      // Rows or their last column taken out (a write mirrored by its effect), an error
      // edited: each message rewritten must still frame.
      filter.hold_ready(units_before, {.drop_tags = size > 1 && data[1] % 2 == 0,
                                       .taken = static_cast<Taken>(size > 1 ? data[1] % 3 : 0),
                                       .error_edit = [](cutover::protocol::ErrorFields& error) {
                                         error.fields.emplace_back('P', "1");
                                         return true;
                                       }});
  }
  cutover::protocol::FrameScanner scanner("ZCEDT", size_t{1} << 20);
  std::string relayed;
  for (size_t at = 0; at < batch.size(); at += 7) {  // chunks of 7: messages split anywhere
    std::string_view chunk = std::string_view(batch).substr(at, 7);
    const bool filtering = filter.engaged();
    scanner.feed(chunk, [&](char type, std::string_view body, size_t end) {
      if (filtering) filter.on_message(type, body, end);
    });
    relayed += filtering ? filter.filter(chunk) : chunk;
  }
  // Only whole messages are taken out or rewritten.
  check(whole_messages(relayed));
  while (filter.has_held()) filter.take_held();
  return 0;
}
