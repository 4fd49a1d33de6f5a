#include "proxy/migration/journal_units.h"

#include <map>
#include <optional>
#include <set>
#include <utility>

#include "protocol/framing.h"
#include "protocol/frontend.h"

namespace cutover::proxy {
namespace {

constexpr size_t kMaxRecordMessage = size_t{1} << 30;  // bounds the parse of a record's bytes

// A Bind's parameters as text; nullopt for NULL and for binary ones.
std::vector<std::optional<std::string>> text_parameters(const protocol::Bind& bind) {
  std::vector<std::optional<std::string>> out;
  const auto& formats = bind.parameter_formats;
  for (size_t i = 0; i < bind.parameters.size(); ++i) {
    const size_t at = formats.size() == 1 ? 0 : i;  // one code for all, or one each
    const bool text = formats.empty() || (at < formats.size() && formats[at] == 0);
    out.push_back(text ? bind.parameters[i] : std::nullopt);
  }
  return out;
}

}  // namespace

// A record's messages cut after each Query and each Sync: one ReadyForQuery per piece. A
// COPY FROM STDIN's Query is followed by its data, and its piece ends with the CopyDone (or
// CopyFail) instead.
std::vector<std::string_view> pieces_of(std::string_view unit) {
  std::vector<std::pair<char, size_t>> frames;  // type, offset just past the message
  for (size_t at = 0; at < unit.size();) {
    auto frame = protocol::next_frame(unit.substr(at), kMaxRecordMessage);
    if (frame.status != protocol::FrameStatus::kFrame) return {};  // not whole messages
    at += frame.consumed;
    frames.emplace_back(frame.type, at);
  }
  std::vector<std::string_view> pieces;
  size_t start = 0;
  for (size_t i = 0; i < frames.size(); ++i) {
    const auto [type, end] = frames[i];
    const bool data_follows =
        i + 1 < frames.size() &&
        std::string_view("dcf").find(frames[i + 1].first) != std::string_view::npos;
    const bool ends = type == 'S' || type == 'c' || type == 'f' || (type == 'Q' && !data_follows);
    if (!ends) continue;
    pieces.push_back(unit.substr(start, end - start));
    start = end;
  }
  return pieces;
}

// The tables a record's statements name (Query texts and Parse statements), for the report.
std::vector<std::string> tables_of(std::string_view unit, const router::Classifier& classifier) {
  std::set<std::string> tables;
  for (size_t at = 0; at < unit.size();) {
    auto frame = protocol::next_frame(unit.substr(at), kMaxRecordMessage);
    if (frame.status != protocol::FrameStatus::kFrame) break;
    at += frame.consumed;
    std::string_view sql;
    if (frame.type == 'Q') {
      sql = frame.body.substr(0, frame.body.find('\0'));
    } else if (frame.type == 'P') {
      std::string_view rest = frame.body.substr(frame.body.find('\0') + 1);  // after the name
      sql = rest.substr(0, rest.find('\0'));
    }
    if (sql.empty()) continue;
    for (const auto& table : classifier.classify(sql).tables) tables.insert(table);
  }
  return {tables.begin(), tables.end()};
}

// The rows each statement of a record names by value: Query texts, and each Bind with the
// text of the statement it binds (parsed earlier in the record).
std::vector<router::NamedRows> rows_named_by(std::string_view unit) {
  std::vector<router::NamedRows> out;
  std::map<std::string, std::string, std::less<>> statements;  // name -> text
  auto add = [&](std::vector<router::NamedRows> rows) {
    for (auto& named : rows) out.push_back(std::move(named));
  };
  for (size_t at = 0; at < unit.size();) {
    auto frame = protocol::next_frame(unit.substr(at), kMaxRecordMessage);
    if (frame.status != protocol::FrameStatus::kFrame) break;
    at += frame.consumed;
    if (frame.type == 'Q') add(router::rows_named(frame.body.substr(0, frame.body.find('\0')), {}));
    if (frame.type != 'P' && frame.type != 'B') continue;
    auto decoded = protocol::decode_frontend(frame.type, frame.body);
    if (!decoded) continue;
    if (const auto* parse = std::get_if<protocol::Parse>(&*decoded)) {
      statements[parse->statement] = parse->query;
    } else if (const auto* bind = std::get_if<protocol::Bind>(&*decoded)) {
      auto text = statements.find(bind->statement);
      if (text != statements.end()) add(router::rows_named(text->second, text_parameters(*bind)));
    }
  }
  return out;
}

}  // namespace cutover::proxy
