#include "router/insert_defaults.h"

#include <algorithm>
#include <boost/json.hpp>  // compiled in parse_tree.cpp
#include <map>
#include <tuple>

#include "router/parse_tree.h"
#include "router/sql_tokens.h"

namespace cutover::router {
namespace {

namespace json = boost::json;
constexpr size_t kNone = std::string_view::npos;

const json::object* object_at(const json::object& node, std::string_view key) {
  const json::value* v = node.if_contains(key);
  return v != nullptr && v->is_object() ? &v->get_object() : nullptr;
}

const json::array* array_at(const json::object& node, std::string_view key) {
  const json::value* v = node.if_contains(key);
  return v != nullptr && v->is_array() ? &v->get_array() : nullptr;
}

std::string text_at(const json::object& node, std::string_view key) {
  const json::value* v = node.if_contains(key);
  return v != nullptr && v->is_string() ? std::string(v->get_string()) : std::string();
}

size_t location_at(const json::object& node) {
  const json::value* v = node.if_contains("location");
  return v != nullptr && v->is_int64() && v->get_int64() >= 0 ? static_cast<size_t>(v->get_int64())
                                                              : kNone;
}

// The tree's side of one INSERT; where its clauses stand in the text comes from scan().
InsertShape shape_of(const json::object& insert, size_t& relation_at) {
  InsertShape shape;
  const json::object* relation = object_at(insert, "relation");
  if (relation != nullptr) {
    shape.schema = text_at(*relation, "schemaname");
    shape.relation = text_at(*relation, "relname");
    relation_at = location_at(*relation);
  }
  if (const json::array* cols = array_at(insert, "cols")) {
    for (const auto& col : *cols) {
      const json::object* target =
          col.is_object() ? object_at(col.get_object(), "ResTarget") : nullptr;
      // A column with a subscript or field (cols[1], comp.f) is not a plain column: give up.
      if (target == nullptr || target->contains("indirection")) return {};
      shape.columns.push_back(text_at(*target, "name"));
    }
  }
  const std::string override = text_at(insert, "override");
  shape.overriding = override == "OVERRIDING_SYSTEM_VALUE" ? 's'
                     : override == "OVERRIDING_USER_VALUE" ? 'u'
                                                           : '\0';
  const json::object* select = object_at(insert, "selectStmt");
  if (select == nullptr) {
    shape.default_values = true;
    shape.default_items.emplace_back();
    shape.rewritable = true;
    return shape;
  }
  const json::object* values = object_at(*select, "SelectStmt");
  const json::array* lists = values != nullptr ? array_at(*values, "valuesLists") : nullptr;
  if (lists == nullptr) return shape;  // INSERT ... SELECT
  for (const auto& list : *lists) {
    const json::object* row = list.is_object() ? object_at(list.get_object(), "List") : nullptr;
    const json::array* items = row != nullptr ? array_at(*row, "items") : nullptr;
    if (items == nullptr) return shape;
    std::vector<size_t>& defaults = shape.default_items.emplace_back();
    for (const auto& item : *items) {
      const json::object* set_default =
          item.is_object() ? object_at(item.get_object(), "SetToDefault") : nullptr;
      defaults.push_back(set_default != nullptr ? location_at(*set_default) : kNone);
    }
  }
  shape.rewritable = true;
  return shape;
}

// Finds in the text, from the relation on, the column list's end, the VALUES keyword and the
// end of each VALUES row. False when what it finds disagrees with the tree.
bool scan(std::string_view sql, size_t relation_at, InsertShape& shape) {
  SqlTokens tokens(sql, relation_at);
  int depth = 0;
  bool in_values = false;
  bool after_row = false;
  Token previous{TokenKind::kOther, 0, 0};
  while (!tokens.done()) {
    const Token token = tokens.next();
    const char c = token.kind == TokenKind::kOther ? sql[token.begin] : '\0';
    if (token.kind == TokenKind::kComment || c == ' ' || c == '\n' || c == '\t' || c == '\r') {
      continue;
    }
    if (in_values && depth == 0 && after_row && c != ',' && c != '(') break;
    if (c == '(') {
      ++depth;
      after_row = false;
    } else if (c == ')') {
      if (--depth < 0) break;  // the end of a WITH clause's INSERT
      if (depth == 0 && in_values) {
        shape.row_ends.push_back(token.begin);
        after_row = true;
      } else if (depth == 0 && shape.values_at == 0 && !shape.columns.empty()) {
        shape.columns_end = token.begin;
      }
    } else if (depth == 0 && !in_values && shape.values_at == 0 &&
               is_keyword(sql, token, "VALUES")) {
      const bool default_values = is_keyword(sql, previous, "DEFAULT");
      if (default_values != shape.default_values) return false;
      shape.values_at = default_values ? previous.begin : token.begin;
      shape.values_end = token.end;
      if (default_values) break;
      in_values = true;
    }
    previous = token;
  }
  return shape.values_at != 0 && (shape.columns.empty() || shape.columns_end != 0) &&
         shape.row_ends.size() == (shape.default_values ? 0 : shape.default_items.size());
}

// Every DEFAULT item lies inside its row and reads DEFAULT.
bool defaults_agree(std::string_view sql, const InsertShape& shape) {
  size_t row_start = shape.values_end;
  for (size_t row = 0; row < shape.row_ends.size(); ++row) {
    for (size_t at : shape.default_items[row]) {
      if (at == kNone) continue;
      Token token{TokenKind::kWord, at, at + 7};
      if (at < row_start || at >= shape.row_ends[row] || at + 7 > sql.size() ||
          !is_keyword(sql, token, "DEFAULT")) {
        return false;
      }
    }
    row_start = shape.row_ends[row];
  }
  return true;
}

void collect(const json::value& value, std::vector<const json::object*>& inserts) {
  if (value.is_array()) {
    for (const auto& item : value.get_array()) collect(item, inserts);
  } else if (value.is_object()) {
    for (const auto& [key, child] : value.get_object()) {
      if (key == "InsertStmt" && child.is_object()) inserts.push_back(&child.get_object());
      collect(child, inserts);
    }
  }
}

}  // namespace

std::optional<std::vector<InsertShape>> find_inserts(std::string_view sql) {
  const auto parsed = parse_tree(sql);
  if (!parsed) return std::nullopt;
  const json::value& tree = *parsed;
  std::vector<const json::object*> nodes;
  collect(tree, nodes);
  std::vector<std::pair<size_t, InsertShape>> found;
  for (const json::object* node : nodes) {
    size_t relation_at = kNone;
    InsertShape shape = shape_of(*node, relation_at);
    if (relation_at == kNone || relation_at >= sql.size()) return std::nullopt;
    if (shape.rewritable && !(scan(sql, relation_at, shape) && defaults_agree(sql, shape))) {
      return std::nullopt;
    }
    found.emplace_back(relation_at, std::move(shape));
  }
  std::sort(found.begin(), found.end(),
            [](const auto& a, const auto& b) { return a.first < b.first; });
  std::vector<InsertShape> shapes;
  shapes.reserve(found.size());
  for (auto& [at, shape] : found) shapes.push_back(std::move(shape));
  return shapes;
}

std::optional<InsertShape> copy_target(std::string_view sql) {
  const auto parsed = parse_tree(sql);
  const json::array* statements =
      parsed && parsed->is_object() ? array_at(parsed->get_object(), "stmts") : nullptr;
  if (statements == nullptr) return std::nullopt;
  for (const auto& entry : *statements) {
    const json::object* raw = entry.is_object() ? object_at(entry.get_object(), "stmt") : nullptr;
    const json::object* copy = raw != nullptr ? object_at(*raw, "CopyStmt") : nullptr;
    const json::object* relation = copy != nullptr ? object_at(*copy, "relation") : nullptr;
    if (relation == nullptr || !copy->contains("is_from") || copy->contains("filename")) continue;
    InsertShape shape;
    shape.schema = text_at(*relation, "schemaname");
    shape.relation = text_at(*relation, "relname");
    if (const json::array* columns = array_at(*copy, "attlist")) {
      for (const auto& column : *columns) {
        const json::object* name =
            column.is_object() ? object_at(column.get_object(), "String") : nullptr;
        if (name == nullptr) return std::nullopt;
        shape.columns.push_back(text_at(*name, "sval"));
      }
    }
    return shape;
  }
  return std::nullopt;
}

DefaultKind classify_default(std::string_view expression) {
  constexpr std::string_view kSelect = "SELECT ";
  if (expression.empty()) return {};
  auto found = find_nondeterminism(std::string(kSelect) + std::string(expression));
  if (!found) return {};
  const bool differs = !found->time_calls.empty() || !found->unpinnable.empty();
  for (TimeCall& call : found->time_calls) {  // offsets into the expression itself
    call.begin -= kSelect.size();
    call.end -= kSelect.size();
  }
  return {.differs = differs,
          .time_only = differs && found->unpinnable.empty(),
          .time_calls = std::move(found->time_calls)};
}

std::optional<std::vector<DefaultSlot>> default_slots(size_t insert, const InsertShape& shape,
                                                      const std::vector<TableColumn>& table,
                                                      const std::vector<DefaultKind>& kinds) {
  auto counts = [&](size_t c) { return kinds[c].differs && !table[c].generated; };
  // An INSERT old refuses whatever cutover does goes to it unchanged: it gets old's own error.
  const std::vector<DefaultSlot> refused_by_old;
  // The table's columns each row names, in item order.
  std::vector<size_t> named;
  for (const std::string& name : shape.columns) {
    auto it = std::find_if(table.begin(), table.end(),
                           [&](const TableColumn& col) { return col.name == name; });
    if (it == table.end()) return refused_by_old;  // 42703
    named.push_back(static_cast<size_t>(it - table.begin()));
  }
  const size_t width = shape.default_items.empty() ? 0 : shape.default_items.front().size();
  if (shape.columns.empty()) {
    // INSERT ... SELECT without a column list: which columns it leaves out is not known here.
    if (!shape.rewritable) {
      for (size_t c = 0; c < table.size(); ++c) {
        if (counts(c)) return std::nullopt;
      }
    }
    if (width > table.size()) return refused_by_old;  // 42601
    for (size_t c = 0; c < width; ++c) named.push_back(c);
  }
  for (const auto& items : shape.default_items) {
    if (items.size() != named.size() && !shape.default_values) return refused_by_old;  // 42601
    // A value of its own for a GENERATED ALWAYS identity column needs OVERRIDING SYSTEM VALUE
    // (428C9), which cutover must not add for it.
    for (size_t i = 0; i < items.size(); ++i) {
      if (items[i] == kNone && table[named[i]].identity == 'a' && shape.overriding == 0) {
        return refused_by_old;
      }
    }
  }
  std::vector<size_t> missing;
  for (size_t c = 0; c < table.size(); ++c) {
    if (counts(c) && std::find(named.begin(), named.end(), c) == named.end()) missing.push_back(c);
  }
  // OVERRIDING USER VALUE throws away the values given for identity columns.
  const bool identity_overridden =
      shape.overriding == 'u' && std::any_of(named.begin(), named.end(), [&](size_t c) {
        return counts(c) && table[c].identity != 0;
      });
  if ((!shape.rewritable && !missing.empty()) || identity_overridden) return std::nullopt;
  std::vector<DefaultSlot> slots;
  for (size_t row = 0; row < shape.default_items.size(); ++row) {
    const auto& items = shape.default_items[row];
    for (size_t i = 0; i < items.size(); ++i) {
      if (items[i] != kNone && counts(named[i])) slots.push_back({insert, row, named[i], items[i]});
    }
    for (size_t c : missing) slots.push_back({insert, row, c, kNone});
  }
  return slots;
}

std::string fill_defaults(std::string_view sql, const std::vector<InsertShape>& shapes,
                          const std::vector<const std::vector<TableColumn>*>& tables,
                          const std::vector<FilledSlot>& filled, TextMap* rewrites) {
  struct Edit {
    size_t at;
    size_t erase;
    std::string text;
  };
  std::vector<Edit> edits;
  // Per INSERT: the columns appended, in order, and each row's appended values.
  std::map<size_t, std::vector<size_t>> appended;
  std::map<std::pair<size_t, size_t>, std::string> row_values;
  std::map<size_t, bool> needs_override;
  for (const FilledSlot& f : filled) {
    const DefaultSlot& s = f.slot;
    const TableColumn& column = (*tables[s.insert])[s.column];
    needs_override[s.insert] = needs_override[s.insert] || column.identity == 'a';
    if (s.item_at != kNone) {
      edits.push_back({s.item_at, 7, f.value});  // DEFAULT
      continue;
    }
    auto& columns = appended[s.insert];
    if (std::find(columns.begin(), columns.end(), s.column) == columns.end()) {
      columns.push_back(s.column);
    }
    std::string& values = row_values[{s.insert, s.row}];
    values += (values.empty() ? "" : ", ") + f.value;
  }
  for (const auto& [insert, columns] : appended) {
    const InsertShape& shape = shapes[insert];
    const auto& table = *tables[insert];
    std::string names;
    for (size_t c : columns) names += (names.empty() ? "" : ", ") + quote_identifier(table[c].name);
    if (!shape.columns.empty()) {
      edits.push_back({shape.columns_end, 0, ", " + names});
    } else {
      std::string list = "(";
      const size_t width = shape.default_items.front().size();
      for (size_t c = 0; c < width; ++c) list.append(quote_identifier(table[c].name)).append(", ");
      list.append(names).append(") ");
      edits.push_back({shape.values_at, 0, std::move(list)});
    }
  }
  for (const auto& [insert, needed] : needs_override) {
    if (needed && shapes[insert].overriding == 0) {
      edits.push_back({shapes[insert].values_at, 0, "OVERRIDING SYSTEM VALUE "});
    }
  }
  for (const auto& [key, values] : row_values) {
    const InsertShape& shape = shapes[key.first];
    if (shape.default_values) {
      edits.push_back(
          {shape.values_at, shape.values_end - shape.values_at, "VALUES (" + values + ")"});
    } else {
      edits.push_back({shape.row_ends[key.second], 0, ", " + values});
    }
  }
  // Applied from the end, so earlier offsets stay valid; edits at one offset keep their order.
  std::stable_sort(edits.begin(), edits.end(),
                   [](const Edit& a, const Edit& b) { return a.at < b.at; });
  std::string out(sql);
  for (auto it = edits.rbegin(); it != edits.rend(); ++it) out.replace(it->at, it->erase, it->text);
  if (rewrites != nullptr) {
    for (const Edit& e : edits) rewrites->edit(e.at, e.erase, e.text.size());
  }
  return out;
}

std::string quote_literal(std::string_view text) {
  std::string out = "'";
  for (char c : text) out += c == '\'' ? std::string("''") : std::string(1, c);
  return out + "'";
}

std::string quote_identifier(std::string_view name) {
  std::string out = "\"";
  for (char c : name) out += c == '"' ? std::string("\"\"") : std::string(1, c);
  return out + "\"";
}

}  // namespace cutover::router
