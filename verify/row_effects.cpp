#include "verify/row_effects.h"

#include <algorithm>
#include <boost/json.hpp>
#include <map>
#include <optional>

namespace cutover::verify {
namespace {

namespace json = boost::json;

// A witness's row: its key as PostgreSQL names a row, and each column's value as JSON text.
struct Witnessed {
  std::string key;
  std::map<std::string, std::string> columns;
};

// The witness is JSON of PostgreSQL's own making (json_build_object), parsed only when two
// sides differ.
std::optional<Witnessed> parse_witness(std::string_view text) {
  boost::system::error_code error;
  const json::value value = json::parse(text, error);
  if (error || !value.is_object()) return std::nullopt;
  Witnessed row;
  std::string names;
  std::string values;
  for (const auto& [name, member] : value.as_object()) {
    if (name.empty()) {  // the row: a column's name is never empty
      if (!member.is_object()) return std::nullopt;
      for (const auto& [column, v] : member.as_object()) row.columns[column] = json::serialize(v);
      continue;
    }
    names.append(names.empty() ? "" : ", ").append(name);
    values.append(values.empty() ? "" : ", ");
    values.append(member.is_string() ? std::string(member.as_string()) : json::serialize(member));
  }
  row.key = "(" + names + ")=(" + values + ")";
  return row;
}

// Each key's rows: one, unless a statement changed a row twice (then sorted, so that the
// order the rows came in does not count).
using Columns = std::map<std::string, std::string>;
using ByKey = std::map<std::string, std::vector<Columns>>;

std::optional<ByKey> by_key(const RowEffects& side) {
  ByKey rows;
  for (const std::string& witness : side.kept()) {
    std::optional<Witnessed> row = parse_witness(witness);
    if (!row) return std::nullopt;
    rows[std::move(row->key)].push_back(std::move(row->columns));
  }
  for (auto& [key, versions] : rows) std::sort(versions.begin(), versions.end());
  return rows;
}

// The columns whose values differ, or that one side lacks, by name: of the first versions of
// a row that differ.
std::vector<std::string> differing_columns(const std::vector<Columns>& old_versions,
                                           const std::vector<Columns>& new_versions) {
  static const Columns none;
  size_t i = 0;
  while (i < old_versions.size() && i < new_versions.size() && old_versions[i] == new_versions[i]) {
    ++i;
  }
  const Columns& on_old = i < old_versions.size() ? old_versions[i] : none;
  const Columns& on_new = i < new_versions.size() ? new_versions[i] : none;
  std::vector<std::string> columns;
  for (const auto& [name, value] : on_old) {
    const auto other = on_new.find(name);
    if (other == on_new.end() || other->second != value) columns.push_back(name);
  }
  for (const auto& [name, value] : on_new) {
    if (!on_old.contains(name)) columns.push_back(name);
  }
  return columns;
}

}  // namespace

void RowEffects::add(std::string_view witness) {
  add_to_set(digest_, witness);
  const bool keeps =
      complete() && kept_.size() < kKeptRows && kept_bytes_ + witness.size() <= kKeptBytes;
  ++rows_;
  if (!keeps) return;
  kept_.emplace_back(witness);
  kept_bytes_ += witness.size();
}

std::string_view difference_name(RowDifference::Kind kind) {
  switch (kind) {
    case RowDifference::Kind::kMissingOnNew:
      return "missing_on_new";
    case RowDifference::Kind::kOnlyOnNew:
      return "only_on_new";
    case RowDifference::Kind::kDifferent:
      return "different";
  }
  return "unknown";
}

std::vector<RowDifference> differences(const RowEffects& on_old, const RowEffects& on_new,
                                       size_t limit) {
  std::vector<RowDifference> found;
  if (!on_old.complete() || !on_new.complete()) return found;
  const std::optional<ByKey> old_rows = by_key(on_old);
  const std::optional<ByKey> new_rows = by_key(on_new);
  if (!old_rows || !new_rows) return found;
  using Kind = RowDifference::Kind;
  auto o = old_rows->begin();
  auto n = new_rows->begin();
  while (found.size() < limit && (o != old_rows->end() || n != new_rows->end())) {
    if (n == new_rows->end() || (o != old_rows->end() && o->first < n->first)) {
      found.push_back({.kind = Kind::kMissingOnNew, .key = o->first});
      ++o;
    } else if (o == old_rows->end() || n->first < o->first) {
      found.push_back({.kind = Kind::kOnlyOnNew, .key = n->first});
      ++n;
    } else {
      if (o->second != n->second) {
        found.push_back({.kind = Kind::kDifferent,
                         .key = o->first,
                         .columns = differing_columns(o->second, n->second)});
      }
      ++o;
      ++n;
    }
  }
  return found;
}

std::optional<std::string> witness_key(std::string_view witness) {
  // A witness of keys alone is passed as it is, unparsed (the extended protocol's).
  if (witness.find(R"("" : )") == std::string_view::npos) return std::string(witness);
  boost::system::error_code error;
  json::value value = json::parse(witness, error);
  if (error || !value.is_object()) return std::nullopt;
  value.as_object().erase("");
  return json::serialize(value);
}

}  // namespace cutover::verify
