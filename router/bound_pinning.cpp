#include "router/bound_pinning.h"

#include <algorithm>
#include <limits>

#include "protocol/framing.h"
#include "protocol/frontend.h"
#include "router/parse_tree.h"

namespace cutover::router {
namespace {

namespace json = boost::json;

constexpr int32_t kTextType = 25;  // pg_type's oid of text

// The highest ParamRef number under `node`. An explicit stack: a tree may be 10,000 levels deep.
size_t highest_in(const json::value& root) {
  size_t highest = 0;
  std::vector<const json::value*> todo{&root};
  while (!todo.empty()) {
    const json::value* node = todo.back();
    todo.pop_back();
    if (node->is_array()) {
      for (const auto& item : node->get_array()) todo.push_back(&item);
      continue;
    }
    if (!node->is_object()) continue;
    for (const auto& [key, value] : node->get_object()) {
      if (key == "ParamRef" && value.is_object()) {
        const json::value* number = value.get_object().if_contains("number");
        if (number != nullptr && number->is_int64() && number->get_int64() > 0) {
          highest = std::max(highest, static_cast<size_t>(number->get_int64()));
        }
      }
      todo.push_back(&value);
    }
  }
  return highest;
}

}  // namespace

std::optional<size_t> highest_parameter(std::string_view sql) {
  auto tree = parse_tree(sql);
  if (!tree) return std::nullopt;
  return highest_in(*tree);
}

std::string parameter(size_t n) { return "$" + std::to_string(n); }

std::string extended_parse(std::string_view name, std::string_view sql,
                           const std::vector<int32_t>& client_types, size_t params, size_t extra) {
  protocol::Parse parse{.statement = std::string(name), .query = std::string(sql)};
  parse.parameter_types = client_types;
  parse.parameter_types.resize(std::max(params, client_types.size()), 0);
  parse.parameter_types.resize(parse.parameter_types.size() + extra, kTextType);
  std::string out;
  protocol::encode(parse, out);
  return out;
}

std::optional<std::string> extended_bind(std::string_view bind_body, std::string_view name,
                                         size_t params,
                                         const std::vector<std::optional<std::string>>& extra,
                                         bool added_column) {
  auto decoded = protocol::decode_frontend('B', bind_body);
  if (!decoded) return std::nullopt;
  auto& bind = std::get<protocol::Bind>(*decoded);
  if (bind.parameters.size() != params) return std::nullopt;
  auto& formats = bind.parameter_formats;
  if (formats.size() > 1 && formats.size() != params) return std::nullopt;
  // A single format code applies to every parameter; the extra ones are text, so a binary code
  // must then be spelt out per parameter.
  if (formats.size() == 1 && formats[0] != 0) formats.assign(params, formats[0]);
  if (formats.size() == params && !formats.empty()) formats.resize(params + extra.size(), 0);
  // One code applies to every column (json's binary form is its text); one per column must
  // cover the added one too, or the server refuses the Bind.
  if (added_column && bind.result_formats.size() > 1) bind.result_formats.push_back(0);
  bind.statement = std::string(name);
  bind.parameters.insert(bind.parameters.end(), extra.begin(), extra.end());
  std::string out;
  protocol::encode(bind, out);
  return out;
}

std::string replace_messages(std::string_view batch, const std::vector<Replacement>& replacements) {
  std::string out;
  out.reserve(batch.size());
  auto next = replacements.begin();
  for (size_t message = 0;; ++message) {
    auto frame = protocol::next_frame(batch, std::numeric_limits<size_t>::max());
    if (frame.status != protocol::FrameStatus::kFrame) break;
    if (next != replacements.end() && next->message == message) {
      out.append(next->bytes);
      ++next;
    } else {
      out.append(batch.substr(0, frame.consumed));
    }
    batch.remove_prefix(frame.consumed);
  }
  out.append(batch);  // an unfinished message, if any, stays as it was
  return out;
}

}  // namespace cutover::router
