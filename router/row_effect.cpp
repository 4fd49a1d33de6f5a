#include "router/row_effect.h"

#include <algorithm>
#include <boost/json.hpp>

#include "router/insert_defaults.h"
#include "router/parse_tree.h"
#include "router/sql_tokens.h"

namespace cutover::router {
namespace {

namespace json = boost::json;

const json::object* node_of(const json::value* value, std::string_view type) {
  if (value == nullptr || !value->is_object()) return nullptr;
  const json::value* found = value->as_object().if_contains(type);
  return found != nullptr && found->is_object() ? &found->as_object() : nullptr;
}

std::string string_field(const json::object& node, std::string_view key) {
  const json::value* found = node.if_contains(key);
  return found != nullptr && found->is_string() ? std::string(found->as_string()) : "";
}

// Whether a subquery appears anywhere under `value`.
bool has_sublink(const json::value& value) {
  if (value.is_array()) {
    return std::any_of(value.as_array().begin(), value.as_array().end(), has_sublink);
  }
  if (!value.is_object()) return false;
  for (const auto& [key, child] : value.as_object()) {
    if (key == "SubLink" || has_sublink(child)) return true;
  }
  return false;
}

// A value fixed by the text: a constant or a parameter, cast or not.
bool fixed_value(const json::value& value) {
  if (node_of(&value, "A_Const") != nullptr || node_of(&value, "ParamRef") != nullptr) return true;
  const json::object* cast = node_of(&value, "TypeCast");
  return cast != nullptr && cast->if_contains("arg") != nullptr && fixed_value(cast->at("arg"));
}

// Whose columns a condition may name: the target's name as the statement calls it, and
// whether other tables are in scope (FROM, USING), so that an unqualified name may be theirs.
struct Target {
  std::string name;
  bool alone = true;
};

// The target's column a ColumnRef names (its last name); empty for anything else, or when it
// may be another table's.
std::string column_named(const json::value& value, const Target& target) {
  const json::object* ref = node_of(&value, "ColumnRef");
  const json::value* fields = ref != nullptr ? ref->if_contains("fields") : nullptr;
  if (fields == nullptr || !fields->is_array() || fields->as_array().empty()) return "";
  const json::array& names = fields->as_array();
  if (names.size() == 1 && !target.alone) return "";
  if (names.size() >= 2) {
    const json::object* table = node_of(&names[names.size() - 2], "String");
    if (table == nullptr || string_field(*table, "sval") != target.name) return "";
  }
  const json::object* name = node_of(&names.back(), "String");
  return name != nullptr ? string_field(*name, "sval") : "";
}

// Columns set equal to a fixed value in the conditions ANDed at the top of `where`.
void fixed_equalities(const json::value& where, const Target& target,
                      std::vector<std::string>& out) {
  if (const json::object* both = node_of(&where, "BoolExpr")) {
    if (string_field(*both, "boolop") != "AND_EXPR" || !both->contains("args")) return;
    for (const json::value& arg : both->at("args").as_array()) {
      fixed_equalities(arg, target, out);
    }
    return;
  }
  const json::object* op = node_of(&where, "A_Expr");
  if (op == nullptr || string_field(*op, "kind") != "AEXPR_OP" || has_sublink(where)) return;
  const json::value* name = op->if_contains("name");
  const json::object* text = name != nullptr && name->is_array() && name->as_array().size() == 1
                                 ? node_of(&name->as_array()[0], "String")
                                 : nullptr;
  if (text == nullptr || string_field(*text, "sval") != "=") return;
  const json::value* left = op->if_contains("lexpr");
  const json::value* right = op->if_contains("rexpr");
  if (left == nullptr || right == nullptr) return;
  const std::string on_left = fixed_value(*right) ? column_named(*left, target) : "";
  const std::string on_right = fixed_value(*left) ? column_named(*right, target) : "";
  if (!on_left.empty()) out.push_back(on_left);
  if (!on_right.empty()) out.push_back(on_right);
}

// WHERE, RETURNING and the statement's end, found in the text at the top level (outside
// parentheses: a subquery's WHERE is not the statement's).
}  // namespace

void locate_clauses(std::string_view sql, RowWrite& write) {
  size_t where = std::string_view::npos;
  size_t returning = std::string_view::npos;
  int depth = 0;
  for (SqlTokens tokens(sql); !tokens.done();) {
    const Token token = tokens.next();
    if (token.kind == TokenKind::kComment) continue;
    if (token.kind == TokenKind::kOther) {
      const char c = sql[token.begin];
      depth += c == '(' ? 1 : c == ')' ? -1 : 0;
      if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == ';') continue;
    }
    if (depth == 0 && token.kind == TokenKind::kWord) {
      if (where == std::string_view::npos && is_keyword(sql, token, "WHERE")) where = token.begin;
      if (is_keyword(sql, token, "RETURNING")) returning = token.begin;
    }
    write.end = token.end;
  }
  write.where_end = returning != std::string_view::npos ? returning : write.end;
  write.where_begin = where != std::string_view::npos ? where : write.where_end;
}

namespace {

std::string relation_of(const json::object& range) {
  std::string relation = quote_identifier(string_field(range, "relname"));
  const std::string schema = string_field(range, "schemaname");
  return schema.empty() ? relation : quote_identifier(schema) + "." + relation;
}

// The statement of a parse tree holding exactly one; null otherwise.
const json::value* only_statement(const std::optional<json::value>& tree) {
  const json::value* statements =
      tree && tree->is_object() ? tree->as_object().if_contains("stmts") : nullptr;
  if (statements == nullptr || !statements->is_array() || statements->as_array().size() != 1) {
    return nullptr;
  }
  return statements->as_array()[0].as_object().if_contains("stmt");
}

// The target's names: quoted for SQL, as written, and what its columns go by.
void name_target(const json::object& range, RowWrite& write) {
  write.relation = relation_of(range);
  const std::string schema = string_field(range, "schemaname");
  write.table = (schema.empty() ? "" : schema + ".") + string_field(range, "relname");
  const json::value* alias = range.if_contains("alias");
  write.reference = quote_identifier(alias != nullptr && alias->is_object()
                                         ? string_field(alias->as_object(), "aliasname")
                                         : string_field(range, "relname"));
}

}  // namespace

std::optional<RowWrite> find_insert(std::string_view sql) {
  const std::optional<json::value> tree = parse_tree(sql);
  const json::object* statement = node_of(only_statement(tree), "InsertStmt");
  const json::value* relation = statement != nullptr ? statement->if_contains("relation") : nullptr;
  if (relation == nullptr || !relation->is_object()) return std::nullopt;
  RowWrite write{.insert = true};
  name_target(relation->as_object(), write);
  write.returning = statement->contains("returningList");
  locate_clauses(sql, write);
  return write;
}

std::optional<RowWrite> find_row_write(std::string_view sql) {
  const std::optional<json::value> tree = parse_tree(sql);
  const json::value* raw = only_statement(tree);
  RowWrite write;
  const json::object* statement = node_of(raw, "UpdateStmt");
  write.update = statement != nullptr;
  if (statement == nullptr) statement = node_of(raw, "DeleteStmt");
  const json::value* relation = statement != nullptr ? statement->if_contains("relation") : nullptr;
  if (relation == nullptr || !relation->is_object()) return std::nullopt;
  const json::object* range = &relation->as_object();  // a RangeVar's fields, unwrapped
  name_target(*range, write);
  write.only = !range->contains("inh");  // DELETE FROM ONLY t: not its inheritors' rows
  const json::value* alias = range->if_contains("alias");
  const Target target{
      .name = alias != nullptr && alias->is_object() ? string_field(alias->as_object(), "aliasname")
                                                     : string_field(*range, "relname"),
      .alone = !statement->contains("fromClause") && !statement->contains("usingClause")};
  const json::value* where = statement->if_contains("whereClause");
  if (where != nullptr) {
    fixed_equalities(*where, target, write.fixed_columns);
    write.current_of = node_of(where, "CurrentOfExpr") != nullptr;
  }
  const json::value* targets = statement->if_contains("targetList");
  if (write.update && targets != nullptr && targets->is_array()) {
    for (const json::value& set : targets->as_array()) {
      if (const json::object* column = node_of(&set, "ResTarget")) {
        write.set_columns.push_back(string_field(*column, "name"));
      }
    }
  }
  write.reads_other_rows = statement->contains("withClause") ||
                           (write.update && statement->contains("fromClause")) ||
                           (targets != nullptr && has_sublink(*targets));
  write.returning = statement->contains("returningList");
  write.uses_other_tables = !target.alone;
  // New's DELETE goes without USING (the keys chose its rows): a RETURNING could name it.
  write.reads_other_rows |= !write.update && write.returning && statement->contains("usingClause");
  locate_clauses(sql, write);
  return write;
}

bool names_rows_by_key(const RowWrite& write, const std::vector<std::string>& key) {
  if (key.empty()) return false;
  return std::all_of(key.begin(), key.end(), [&](const std::string& column) {
    return std::find(write.fixed_columns.begin(), write.fixed_columns.end(), column) !=
           write.fixed_columns.end();
  });
}

namespace {

// The witness column: `json_build_object('<key column>', <ref>."<key column>", ..., '',
// <ref>.*)` (the whole row as a JSON object: a function's argument `t.*` is the row, not its
// columns), after ", " or " RETURNING ". Measured on pgbench's tpcb-like against a hash per
// column (hashtext(col::text) in a json_build_array): about a third of that cost on the server.
std::string witness(const RowWrite& write, const std::vector<std::string>& key, bool whole_row) {
  std::string object;
  for (const std::string& column : key) {
    object.append(object.empty() ? "" : ", ")
        .append(quote_literal(column))
        .append(", ")
        .append(write.reference)
        .append(".")
        .append(quote_identifier(column));
  }
  if (whole_row) object.append(", '', ").append(write.reference).append(".*");
  return (write.returning ? ", " : " RETURNING ") + ("json_build_object(" + object + ")");
}

}  // namespace

std::string returning_effect(std::string_view sql, const RowWrite& write,
                             const std::vector<std::string>& key, bool whole_row) {
  std::string text(sql.substr(0, write.end));
  text.append(witness(write, key, whole_row));
  text.append(sql.substr(write.end));
  return text;
}

namespace {

// The statement with its condition replaced by "the key is one of `rows`" (a JSON array of key
// objects, as SQL); with `kept`, the client's condition stays, folded away by the planner
// (`OR true`), so that the parameters it names keep the types PostgreSQL infers from it.
// Returning witnesses of the rows when `witnessed`.
std::string keyed(std::string_view sql, const RowWrite& write, const std::vector<std::string>& key,
                  std::string_view rows, bool kept, bool witnessed) {
  std::string columns;
  std::string picked;
  for (const std::string& column : key) {
    columns.append(columns.empty() ? "" : ", ")
        .append(write.reference)
        .append(".")
        .append(quote_identifier(column));
    picked.append(picked.empty() ? "" : ", ").append("k.").append(quote_identifier(column));
  }
  // A DELETE's USING only chose rows: the keys have done that.
  std::string text = write.update || kept
                         ? std::string(sql.substr(0, write.where_begin))
                         : "DELETE FROM " + std::string(write.only ? "ONLY " : "") +
                               write.relation + " AS " + write.reference;
  text.append(" WHERE (").append(columns).append(") IN (SELECT ").append(picked);
  text.append(" FROM json_populate_recordset(NULL::").append(write.relation).append(", ");
  text.append(rows).append(") AS k) ");
  if (kept && write.where_begin < write.where_end) {
    constexpr size_t kWhere = 5;  // the keyword's length
    const size_t begin = write.where_begin + kWhere;
    text.append("AND ((").append(sql.substr(begin, write.where_end - begin)).append(") OR true) ");
  }
  text.append(sql.substr(write.where_end, write.end - write.where_end));
  if (witnessed) text.append(witness(write, key, true));
  text.append(sql.substr(write.end));
  return text;
}

}  // namespace

std::string on_keys(std::string_view sql, const RowWrite& write,
                    const std::vector<std::string>& key, std::string_view keys, bool witnessed) {
  return keyed(sql, write, key, quote_literal(keys), false, witnessed);
}

std::string on_key_parameter(std::string_view sql, const RowWrite& write,
                             const std::vector<std::string>& key, size_t parameter,
                             bool witnessed) {
  return keyed(sql, write, key, "CAST($" + std::to_string(parameter) + " AS json)", true,
               witnessed);
}

}  // namespace cutover::router
