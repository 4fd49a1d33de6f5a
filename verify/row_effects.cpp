#include "verify/row_effects.h"

#include <xxhash.h>

#include <boost/json.hpp>
#include <map>
#include <optional>

namespace cutover::verify {
namespace {

namespace json = boost::json;

// A witness's row: its key as PostgreSQL names a row, and its columns' hashes as JSON text.
struct Witnessed {
  std::string key;
  std::vector<std::string> hashes;
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
    if (name.empty()) {  // the hashes: a column's name is never empty
      if (!member.is_array()) return std::nullopt;
      for (const json::value& hash : member.as_array()) row.hashes.push_back(json::serialize(hash));
      continue;
    }
    names.append(names.empty() ? "" : ", ").append(name);
    values.append(values.empty() ? "" : ", ");
    values.append(member.is_string() ? std::string(member.as_string()) : json::serialize(member));
  }
  row.key = "(" + names + ")=(" + values + ")";
  return row;
}

using ByKey = std::map<std::string, std::vector<std::string>>;

std::optional<ByKey> by_key(const RowEffects& side) {
  ByKey rows;
  for (const std::string& witness : side.kept()) {
    std::optional<Witnessed> row = parse_witness(witness);
    if (!row) return std::nullopt;
    rows[std::move(row->key)] = std::move(row->hashes);
  }
  return rows;
}

std::vector<std::string> differing_columns(const std::vector<std::string>& on_old,
                                           const std::vector<std::string>& on_new,
                                           const std::vector<std::string>& names) {
  std::vector<std::string> columns;
  for (size_t i = 0; i < std::max(on_old.size(), on_new.size()); ++i) {
    const bool same = i < on_old.size() && i < on_new.size() && on_old[i] == on_new[i];
    if (!same) columns.push_back(i < names.size() ? names[i] : "#" + std::to_string(i + 1));
  }
  return columns;
}

}  // namespace

void RowEffects::add(std::string_view witness) {
  const XXH128_hash_t h = XXH3_128bits(witness.data(), witness.size());
  const uint64_t low = digest_.low + h.low64;
  digest_.high += h.high64 + static_cast<uint64_t>(low < digest_.low);  // carry
  digest_.low = low;
  if (rows_++ < kKeptRows) kept_.emplace_back(witness);
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
                                       const std::vector<std::string>& columns, size_t limit) {
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
                         .columns = differing_columns(o->second, n->second, columns)});
      }
      ++o;
      ++n;
    }
  }
  return found;
}

}  // namespace cutover::verify
