#include "router/row_keys.h"

#include <algorithm>
#include <boost/json.hpp>

#include "router/insert_defaults.h"
#include "router/parse_tree.h"
#include "router/sql_tokens.h"

namespace cutover::router {
namespace {

namespace json = boost::json;
using Parameters = std::vector<std::optional<std::string>>;

const json::object* child(const json::value* node, std::string_view key) {
  if (node == nullptr || !node->is_object()) return nullptr;
  const json::value* found = node->as_object().if_contains(key);
  return found != nullptr && found->is_object() ? &found->as_object() : nullptr;
}

std::string text_of(const json::value* node) {  // a {"String": {"sval": ...}} node
  const json::object* string = child(node, "String");
  const json::value* sval = string != nullptr ? string->if_contains("sval") : nullptr;
  return sval != nullptr && sval->is_string() ? std::string(sval->as_string()) : "";
}

std::string table_of(const json::object& statement) {
  const json::value* relation = statement.if_contains("relation");
  if (relation == nullptr || !relation->is_object()) return "";
  const json::object& r = relation->as_object();
  const json::value* schema = r.if_contains("schemaname");
  const json::value* name = r.if_contains("relname");
  if (name == nullptr || !name->is_string()) return "";
  std::string table(name->as_string());
  if (schema != nullptr && schema->is_string())
    table = std::string(schema->as_string()) + "." + table;
  return table;
}

// A constant as the text spells it (a negative number's sign included), taken at its location.
std::optional<std::string> spelled_at(std::string_view sql, const json::object& node) {
  const json::value* location = node.if_contains("location");
  if (location == nullptr || !location->is_int64()) return std::nullopt;
  const auto at = static_cast<size_t>(location->as_int64());
  if (at >= sql.size()) return std::nullopt;
  SqlTokens tokens(sql, at);
  Token token = tokens.next();
  const bool negative = token.kind == TokenKind::kOther && sql[token.begin] == '-';
  if (negative && !tokens.done()) token = tokens.next();
  if (token.kind != TokenKind::kLiteral) return std::nullopt;
  return std::string(negative ? "-" : "") +
         std::string(sql.substr(token.begin, token.end - token.begin));
}

std::optional<std::string> value_of(const json::value& node, std::string_view sql,
                                    const Parameters& parameters) {
  if (const json::object* constant = child(&node, "A_Const")) {
    if (constant->contains("isnull")) return std::nullopt;
    return spelled_at(sql, *constant);
  }
  if (const json::object* cast = child(&node, "TypeCast")) {
    const json::value* arg = cast->if_contains("arg");
    return arg != nullptr ? value_of(*arg, sql, parameters) : std::nullopt;
  }
  if (const json::object* parameter = child(&node, "ParamRef")) {
    const json::value* number = parameter->if_contains("number");
    if (number == nullptr || !number->is_int64()) return std::nullopt;
    const auto index = static_cast<size_t>(number->as_int64()) - 1;
    if (index >= parameters.size() || !parameters[index]) return std::nullopt;
    return quote_literal(*parameters[index]);
  }
  return std::nullopt;
}

std::string column_of(const json::value* node) {  // a ColumnRef's last name
  const json::object* ref = child(node, "ColumnRef");
  const json::value* fields = ref != nullptr ? ref->if_contains("fields") : nullptr;
  if (fields == nullptr || !fields->is_array() || fields->as_array().empty()) return "";
  return text_of(&fields->as_array().back());
}

// `column = value` conditions ANDed at the top of a WHERE clause, into the row's one row.
void equalities(const json::value& where, std::string_view sql, const Parameters& parameters,
                NamedRows& out) {
  if (const json::object* boolean = child(&where, "BoolExpr")) {
    const json::value* op = boolean->if_contains("boolop");
    const json::value* args = boolean->if_contains("args");
    if (op == nullptr || *op != "AND_EXPR" || args == nullptr || !args->is_array()) return;
    for (const json::value& arg : args->as_array()) equalities(arg, sql, parameters, out);
    return;
  }
  const json::object* expr = child(&where, "A_Expr");
  if (expr == nullptr || expr->if_contains("kind") == nullptr || expr->at("kind") != "AEXPR_OP") {
    return;
  }
  const json::value* name = expr->if_contains("name");
  if (name == nullptr || !name->is_array() || name->as_array().size() != 1 ||
      text_of(&name->as_array()[0]) != "=") {
    return;
  }
  const json::value* left = expr->if_contains("lexpr");
  const json::value* right = expr->if_contains("rexpr");
  if (left == nullptr || right == nullptr) return;
  std::string column = column_of(left);
  const json::value* value = right;
  if (column.empty()) {  // written the other way round: value = column
    column = column_of(right);
    value = left;
  }
  if (column.empty()) return;
  out.columns.push_back(column);
  out.rows[0].push_back(value_of(*value, sql, parameters));
}

std::optional<NamedRows> inserted(const json::object& insert, std::string_view sql,
                                  const Parameters& parameters) {
  NamedRows out{.table = table_of(insert)};
  const json::value* cols = insert.if_contains("cols");
  if (cols == nullptr || !cols->is_array()) return std::nullopt;  // the table's order: unknown
  for (const json::value& col : cols->as_array()) {
    const json::object* target = child(&col, "ResTarget");
    const json::value* name = target != nullptr ? target->if_contains("name") : nullptr;
    if (name == nullptr || !name->is_string()) return std::nullopt;
    out.columns.emplace_back(name->as_string());
  }
  const json::object* select = child(insert.if_contains("selectStmt"), "SelectStmt");
  const json::value* lists = select != nullptr ? select->if_contains("valuesLists") : nullptr;
  if (lists == nullptr || !lists->is_array()) return std::nullopt;
  for (const json::value& list : lists->as_array()) {
    const json::object* items_of = child(&list, "List");
    const json::value* items = items_of != nullptr ? items_of->if_contains("items") : nullptr;
    if (items == nullptr || !items->is_array()) return std::nullopt;
    std::vector<std::optional<std::string>> row;
    for (const json::value& item : items->as_array())
      row.push_back(value_of(item, sql, parameters));
    out.rows.push_back(std::move(row));
  }
  return out;
}

}  // namespace

std::vector<NamedRows> rows_named(std::string_view sql, const Parameters& parameters) {
  std::vector<NamedRows> out;
  auto tree = parse_tree(sql);
  if (!tree) return out;
  const json::value* stmts = tree->as_object().if_contains("stmts");
  if (stmts == nullptr || !stmts->is_array()) return out;
  for (const json::value& raw : stmts->as_array()) {
    const json::value* found = raw.is_object() ? raw.as_object().if_contains("stmt") : nullptr;
    if (found == nullptr) continue;
    const json::value& stmt = *found;
    if (const json::object* insert = child(&stmt, "InsertStmt")) {
      if (auto rows = inserted(*insert, sql, parameters)) out.push_back(std::move(*rows));
      continue;
    }
    const json::object* write = child(&stmt, "UpdateStmt");
    if (write == nullptr) write = child(&stmt, "DeleteStmt");
    const json::value* where = write != nullptr ? write->if_contains("whereClause") : nullptr;
    if (where == nullptr) continue;
    NamedRows rows{.table = table_of(*write), .rows = {{}}};
    equalities(*where, sql, parameters, rows);
    if (!rows.columns.empty()) out.push_back(std::move(rows));
  }
  return out;
}

std::vector<std::string> key_texts(const NamedRows& named, const std::vector<std::string>& key) {
  std::vector<std::string> out;
  if (key.empty()) return out;
  std::vector<size_t> positions;
  for (const std::string& column : key) {
    auto it = std::find(named.columns.begin(), named.columns.end(), column);
    if (it == named.columns.end()) return out;
    positions.push_back(static_cast<size_t>(it - named.columns.begin()));
  }
  std::string columns;
  for (const std::string& column : key) columns += (columns.empty() ? "" : ", ") + column;
  for (const auto& row : named.rows) {
    std::string values;
    bool whole = true;
    for (size_t position : positions) {
      whole = whole && position < row.size() && row[position].has_value();
      if (whole) values += (values.empty() ? "" : ", ") + *row[position];
    }
    if (!whole) continue;
    std::string text = named.table;
    text.append("(").append(columns).append(")=(").append(values).append(")");
    out.push_back(std::move(text));
  }
  return out;
}

}  // namespace cutover::router
