#include "proxy/link/reply_filter.h"

#include <algorithm>
#include <utility>
#include <variant>

#include "protocol/backend.h"
#include "protocol/message_writer.h"

namespace cutover::proxy {
namespace {

std::string field_of(char type, std::string_view body, char code) {
  auto decoded = protocol::decode_backend(type, body);
  if (!decoded) return "";
  if (const auto* error = std::get_if<protocol::ErrorFields>(&*decoded)) {
    return std::string(error->get(code).value_or(""));
  }
  if (const auto* complete = std::get_if<protocol::CommandComplete>(&*decoded)) {
    return complete->tag;
  }
  return "";
}

}  // namespace

void ReplyFilter::drop_parse_complete(int units_before, int parses_before, uint64_t* taken_out) {
  expected_.push_back({Edit::kParseComplete, units_before, parses_before, {}, {}, taken_out});
}

void ReplyFilter::drop_answer(int units_before) {
  expected_.push_back({Edit::kAnswer, units_before, 0, {}});
}

void ReplyFilter::keep_answer(int units_before) {
  expected_.push_back({Edit::kKeptAnswer, units_before, 0, {}});
}

void ReplyFilter::compare_answer(int units_before) {
  expected_.push_back({Edit::kComparedAnswer, units_before, 0, {}});
}

void ReplyFilter::hold_ready(int units_before) { hold_ready(units_before, Holding{}); }

void ReplyFilter::hold_ready(int units_before, Holding how) {
  const Edit edit = how.drop_tags ? Edit::kReadyAndTags : Edit::kReady;
  for (Expected& e : expected_) {
    if (e.edit == Edit::kObserved && e.units_before == units_before) {
      e.edit = edit;
      return;
    }
  }
  expected_.push_back({edit, units_before, 0, {}});
  expected_.back().taken = how.taken;
  expected_.back().error_edit = std::move(how.error_edit);
  expected_.back().executes = std::move(how.executes);
  expected_.back().describes = std::move(how.describes);
}

void ReplyFilter::observe(int units_before) {
  expected_.push_back({Edit::kObserved, units_before, 0, {}});
}

void ReplyFilter::take_also(int units_before, const std::vector<Taken>& executes,
                            const std::vector<Taken>& describes) {
  auto merge = [](std::vector<Taken>& into, const std::vector<Taken>& more) {
    if (into.size() < more.size()) into.resize(more.size(), Taken::kNothing);
    for (size_t i = 0; i < more.size(); ++i) {
      if (more[i] != Taken::kNothing) into[i] = more[i];
    }
  };
  for (Expected& e : expected_) {
    if (e.edit != Edit::kObserved || e.units_before != units_before) continue;
    merge(e.executes, executes);
    merge(e.describes, describes);
    return;
  }
}

HeldAnswer ReplyFilter::take_held() {
  HeldAnswer answer = std::move(answers_.front());
  answers_.pop_front();
  return answer;
}

// Sets e.units_before to -1 once its unit's answer is over for it.
bool ReplyFilter::edits(Expected& e, char type, std::string_view body, std::string& replacement) {
  if (e.units_before > 0) {
    if (type == 'Z') --e.units_before;
    return false;
  }
  switch (e.edit) {
    case Edit::kParseComplete:
      if (type == '1' && e.parses_before-- > 0) return false;
      if (type == '1' || type == 'E' || type == 'Z') e.units_before = -1;
      return type == '1';
    case Edit::kAnswer:
      if (type == 'Z') e.units_before = -1;
      return true;
    case Edit::kKeptAnswer:
    case Edit::kComparedAnswer:
    case Edit::kReady:
    case Edit::kReadyAndTags:
    case Edit::kObserved: {
      const Taken taken = taken_for(e, type);
      if (taken == Taken::kRows && (type == 'T' || type == 'D')) {  // rows cutover asked for
        if (type == 'D') e.answer.data_rows.emplace_back(body);
        // A Describe's answer: the client's statement returns no rows.
        if (type == 'T' && !e.describes.empty()) replacement.assign("n\0\0\0\4", 5);
        return true;
      }
      if (taken == Taken::kLastColumn && (type == 'T' || type == 'D') && !body.empty()) {
        take_last_column(e, type, body, replacement);
        if (type == 'D') e.rows.add_data_row(replacement.substr(5));  // the client's row
        return true;
      }
      if (type == 'D' && e.edit == Edit::kKeptAnswer) e.answer.data_rows.emplace_back(body);
      if (type == 'C') {
        e.answer.tags.push_back(field_of(type, body, 'C'));
        return e.edit != Edit::kReady && e.edit != Edit::kObserved;
      }
      if (type == 'E' && e.answer.sqlstate.empty()) e.answer.sqlstate = field_of(type, body, 'C');
      if (type == 'E' && e.error_edit && edits_error(e, body, replacement)) return true;
      if (type == 'D') e.rows.add_data_row(body);
      if (type != 'Z') return e.edit == Edit::kKeptAnswer || e.edit == Edit::kComparedAnswer;
      if (e.edit == Edit::kObserved) {  // never held: its unit is over for it
        e.units_before = -1;
        return false;
      }
      e.answer.status = body.empty() ? 'I' : body[0];
      e.answer.rows = e.rows.rows();
      e.answer.rows_digest = e.rows.digest();
      e.units_before = -1;
      return true;
    }
  }
  return false;
}

// Counts the answers whatever is taken: a batch going to old in pieces learns what to take
// of later ones as they are sent (take_also()).
ReplyFilter::Taken ReplyFilter::taken_for(Expected& e, char type) {
  const bool extended = !e.executes.empty() || !e.describes.empty();
  auto at = [&](const std::vector<Taken>& answers, size_t place) {
    if (!extended) return e.taken;
    return place < answers.size() ? answers[place] : Taken::kNothing;
  };
  switch (type) {
    case 'T':
      return at(e.describes, e.describes_seen++);
    case 'n':
      ++e.describes_seen;
      return Taken::kNothing;
    case 'D': {
      const Taken taken = at(e.executes, e.executes_seen);
      if (taken != Taken::kNothing) ++e.taken_rows;
      return taken;
    }
    case 'C':  // an Execute's answer ends: CommandComplete, EmptyQueryResponse, PortalSuspended
    case 'I':
    case 's':
      e.answer.taken_per_execute.push_back(std::exchange(e.taken_rows, 0));
      ++e.executes_seen;
      return Taken::kNothing;
    default:
      return Taken::kNothing;
  }
}

// A malformed message is passed on unchanged and nothing is taken.
void ReplyFilter::take_last_column(Expected& e, char type, std::string_view body,
                                   std::string& replacement) {
  const std::optional<size_t> last = protocol::last_column_at(type, body);
  replacement.clear();
  protocol::MessageWriter out(replacement, type);
  if (last) {
    out.bytes(protocol::without_last_column(body, *last));
    if (type == 'D') {  // the last column as a DataRow of its own, for the caller
      e.answer.data_rows.push_back(std::string("\0\1", 2).append(body.substr(*last)));
    }
  } else {
    out.bytes(body);
  }
  out.finish();
}

bool ReplyFilter::edits_error(const Expected& e, std::string_view body, std::string& replacement) {
  auto decoded = protocol::decode_backend('E', body);
  auto* error = decoded ? std::get_if<protocol::ErrorFields>(&*decoded) : nullptr;
  if (error == nullptr || !e.error_edit(*error)) return false;
  replacement.clear();
  protocol::encode(*error, replacement);
  return true;
}

void ReplyFilter::on_message(char type, std::string_view body, size_t end) {
  bool cut = false;
  std::string replacement;
  for (auto& e : expected_) {
    if (e.units_before < 0 || !edits(e, type, body, replacement)) continue;
    cut = true;
    if (e.taken_out != nullptr) ++*e.taken_out;
  }
  if (cut) cuts_.push_back({ended_ ? last_end_ : kFromHeld, end, std::move(replacement)});
  last_end_ = end;
  ended_ = true;
  for (auto& e : expected_) {
    bool reports =
        e.edit != Edit::kParseComplete && e.edit != Edit::kAnswer && e.edit != Edit::kObserved;
    if (e.units_before < 0 && reports) answers_.push_back(std::move(e.answer));
  }
  std::erase_if(expected_, [](const Expected& e) { return e.units_before < 0; });
}

std::string_view ReplyFilter::filter(std::string_view chunk) {
  const size_t offset = held_bytes_.size();
  out_.assign(held_bytes_);
  out_.append(chunk);
  held_bytes_.clear();
  size_t keep = out_.size();
  if (!expected_.empty()) keep = ended_ ? offset + last_end_ : 0;
  // Later cuts first, so the earlier offsets stay valid.
  for (auto it = cuts_.rbegin(); it != cuts_.rend(); ++it) {
    size_t start = it->start == kFromHeld ? 0 : offset + it->start;
    out_.replace(start, offset + it->end - start, it->replacement);
    keep -= offset + it->end - start - it->replacement.size();
  }
  cuts_.clear();
  ended_ = false;
  last_end_ = 0;
  held_bytes_.assign(out_, keep);
  out_.resize(keep);
  return out_;
}

}  // namespace cutover::proxy
