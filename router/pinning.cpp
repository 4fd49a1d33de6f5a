#include "router/pinning.h"

#include <algorithm>
#include <boost/json.hpp>  // compiled in parse_tree.cpp
#include <cctype>
#include <cstdio>
#include <ctime>
#include <initializer_list>

#include "router/classify.h"
#include "router/parse_tree.h"

namespace cutover::router {
namespace {

namespace json = boost::json;

bool name_char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '_' || c == '$';
}

size_t skip_space(std::string_view sql, size_t at) {
  while (at < sql.size() && std::isspace(static_cast<unsigned char>(sql[at])) != 0) ++at;
  return at;
}

// The end of "( ... )" starting at `at` (after spaces), or npos. The calls pinned here take
// no arguments, so nothing but spaces and comments-free text is expected inside.
size_t skip_parentheses(std::string_view sql, size_t at) {
  at = skip_space(sql, at);
  if (at >= sql.size() || sql[at] != '(') return std::string_view::npos;
  size_t close = sql.find(')', at);
  return close == std::string_view::npos ? close : close + 1;
}

// The end of a possibly qualified, possibly quoted function name starting at `at`.
size_t skip_name(std::string_view sql, size_t at) {
  while (at < sql.size()) {
    if (sql[at] == '"') {
      size_t close = sql.find('"', at + 1);
      if (close == std::string_view::npos) return sql.size();
      at = close + 1;
    } else if (name_char(sql[at]) || sql[at] == '.' ||
               std::isspace(static_cast<unsigned char>(sql[at])) != 0) {
      ++at;
    } else {
      break;
    }
  }
  return at;
}

size_t location_of(const json::object& node) {
  const json::value* v = node.if_contains("location");
  return v != nullptr && v->is_int64() && v->get_int64() >= 0 ? static_cast<size_t>(v->get_int64())
                                                              : 0;
}

std::string_view string_at(const json::object& node, std::string_view key) {
  const json::value* v = node.if_contains(key);
  return v != nullptr && v->is_string() ? std::string_view(v->get_string()) : std::string_view();
}

// Whether a call's first argument is the constant 0 (the parser leaves a zero's value out).
bool first_argument_is_zero(const json::object& call) {
  const json::value* args = call.if_contains("args");
  if (args == nullptr || !args->is_array() || args->get_array().empty()) return false;
  const json::value& first = args->get_array().front();
  const json::value* constant =
      first.is_object() ? first.get_object().if_contains("A_Const") : nullptr;
  const json::value* ival = constant != nullptr && constant->is_object()
                                ? constant->get_object().if_contains("ival")
                                : nullptr;
  if (ival == nullptr || !ival->is_object()) return false;
  const json::value* value = ival->get_object().if_contains("ival");
  return value == nullptr || (value->is_int64() && value->get_int64() == 0);
}

struct Finder {
  std::string_view sql;
  NonDeterminism found;
  bool failed = false;

  bool stores = false;  // the statement walked stores rows (see NonDeterminism::unsafe)

  static void add_once(std::vector<std::string>& names, std::string_view name) {
    if (std::find(names.begin(), names.end(), name) == names.end()) names.emplace_back(name);
  }
  void add_unpinnable(std::string_view name) {
    add_once(found.unpinnable, name);
    if (stores) add_once(found.unsafe, name);
  }

  // CURRENT_TIMESTAMP and its kin: ops SVFOP_CURRENT_DATE, ..._TIME[_N], ..._TIMESTAMP[_N],
  // SVFOP_LOCALTIME[_N], SVFOP_LOCALTIMESTAMP[_N]; the others (CURRENT_USER...) are not times.
  void value_function(const json::object& node) {
    std::string_view op = string_at(node, "op");
    static constexpr std::pair<std::string_view, std::string_view> kTypes[] = {
        {"SVFOP_CURRENT_DATE", "date"},
        {"SVFOP_CURRENT_TIMESTAMP", "timestamptz"},
        {"SVFOP_CURRENT_TIME", "timetz"},
        {"SVFOP_LOCALTIMESTAMP", "timestamp"},
        {"SVFOP_LOCALTIME", "time"}};
    const bool with_precision = op.ends_with("_N");
    if (with_precision) op.remove_suffix(2);
    auto it = std::find_if(std::begin(kTypes), std::end(kTypes),
                           [&](const auto& t) { return t.first == op; });
    if (it == std::end(kTypes)) return;
    TimeCall call{.begin = location_of(node), .type = std::string(it->second)};
    call.end = call.begin;
    while (call.end < sql.size() && name_char(sql[call.end])) ++call.end;
    if (with_precision) {
      const json::value* typmod = node.if_contains("typmod");
      call.end = skip_parentheses(sql, call.end);
      if (call.end == std::string_view::npos || typmod == nullptr || !typmod->is_int64()) {
        failed = true;
        return;
      }
      call.type += "(" + std::to_string(typmod->get_int64()) + ")";
    }
    found.time_calls.push_back(std::move(call));
  }

  void function_call(const json::object& node) {
    const json::value* names = node.if_contains("funcname");
    if (names == nullptr || !names->is_array() || names->get_array().empty()) return;
    const json::value& last = names->get_array().back();
    const json::object* string = last.is_object() && last.get_object().contains("String")
                                     ? &last.get_object().at("String").get_object()
                                     : nullptr;
    if (string == nullptr) return;
    std::string_view name = string_at(*string, "sval");
    if (names->get_array().size() > 1) {
      const json::value& first = names->get_array().front();
      const auto* schema = first.is_object() && first.get_object().contains("String")
                               ? &first.get_object().at("String").get_object()
                               : nullptr;
      const std::string_view schema_name = schema != nullptr ? string_at(*schema, "sval") : "";
      if (schema_name != "pg_catalog") {
        if (stores && !schema_name.empty()) {
          add_once(found.other_calls, std::string(schema_name) + "." + std::string(name));
        }
        return;
      }
    } else if (stores && !nondeterministic_function(name) && !large_object_function(name) &&
               !builtin_read_only_function(name)) {
      add_once(found.other_calls, name);
    }
    if (large_object_function(name)) {
      // A large object whose OID each server assigns itself (or, lo_import, read from a file
      // on old's disk) is stored even by a plain SELECT.
      if (name == "lo_creat" || name == "lo_import" || first_argument_is_zero(node)) {
        add_once(found.unpinnable, name);
        add_once(found.unsafe, name);
      }
      return;
    }
    const bool transaction_time = name == "now" || name == "transaction_timestamp";
    if (!transaction_time && name != "statement_timestamp") {
      if (nondeterministic_function(name)) add_unpinnable(name);
      return;
    }
    const json::value* args = node.if_contains("args");
    size_t end = skip_parentheses(sql, skip_name(sql, location_of(node)));
    if (end == std::string_view::npos || (args != nullptr && !args->get_array().empty())) {
      failed = true;
      return;
    }
    found.time_calls.push_back({.begin = location_of(node),
                                .end = end,
                                .type = "timestamptz",
                                .per_statement = !transaction_time});
  }

  void walk(const json::value& value) {
    if (value.is_array()) {
      for (const auto& item : value.get_array()) walk(item);
    } else if (value.is_object()) {
      for (const auto& [key, child] : value.get_object()) {
        if (key == "SQLValueFunction" && child.is_object()) value_function(child.get_object());
        if (key == "FuncCall" && child.is_object()) function_call(child.get_object());
        walk(child);
      }
    }
  }
};

// Whether a statement's calls produce data now (INSERT, UPDATE, DELETE, MERGE, SELECT, CALL,
// CREATE TABLE AS): only those are pinned. In a definition — a column DEFAULT, a view, a
// materialized view, a function body — now() must stay now(), evaluated each time it is used.
bool pins_values(const json::value& stmt) {
  if (!stmt.is_object() || stmt.get_object().empty()) return false;
  const auto& [type, node] = *stmt.get_object().begin();
  if (type == "CreateTableAsStmt") {
    return node.is_object() && string_at(node.get_object(), "objtype") != "OBJECT_MATVIEW";
  }
  return type == "InsertStmt" || type == "UpdateStmt" || type == "DeleteStmt" ||
         type == "MergeStmt" || type == "SelectStmt" || type == "CallStmt";
}

bool holds_key(const json::value& value, std::initializer_list<std::string_view> keys) {
  if (value.is_array()) {
    const auto& items = value.get_array();
    return std::any_of(items.begin(), items.end(),
                       [&](const json::value& item) { return holds_key(item, keys); });
  }
  if (!value.is_object()) return false;
  for (const auto& [key, child] : value.get_object()) {
    if (std::find(keys.begin(), keys.end(), std::string_view(key)) != keys.end()) return true;
    if (holds_key(child, keys)) return true;
  }
  return false;
}

// Whether a statement pins_values() accepts stores rows: all but a plain SELECT do.
bool stores_rows(const json::value& stmt) {
  const auto& [type, node] = *stmt.get_object().begin();
  if (type != "SelectStmt") return true;
  return holds_key(node, {"intoClause", "InsertStmt", "UpdateStmt", "DeleteStmt", "MergeStmt"});
}

}  // namespace

bool nondeterministic_function(std::string_view name) {
  static constexpr std::string_view kNames[] = {"now",
                                                "transaction_timestamp",
                                                "statement_timestamp",
                                                "clock_timestamp",
                                                "timeofday",
                                                "random",
                                                "gen_random_uuid",
                                                "uuid_generate_v1",
                                                "uuid_generate_v1mc",
                                                "uuid_generate_v4",
                                                "nextval",
                                                "currval",
                                                "lastval",
                                                "txid_current",
                                                "pg_current_xact_id",
                                                "pg_backend_pid"};
  return std::find(std::begin(kNames), std::end(kNames), name) != std::end(kNames);
}

bool large_object_function(std::string_view name) {
  return name == "lo_creat" || name == "lo_create" || name == "lo_from_bytea" ||
         name == "lo_import";
}

std::optional<NonDeterminism> find_nondeterminism(std::string_view sql) {
  const auto parsed = parse_tree(sql);
  if (!parsed) return std::nullopt;
  const json::value& tree = *parsed;
  Finder finder{sql, {}};
  const json::value* statements =
      tree.is_object() ? tree.get_object().if_contains("stmts") : nullptr;
  if (statements != nullptr && statements->is_array()) {
    for (const auto& entry : statements->get_array()) {
      const json::value* stmt =
          entry.is_object() ? entry.get_object().if_contains("stmt") : nullptr;
      if (stmt == nullptr || !pins_values(*stmt)) continue;
      finder.stores = stores_rows(*stmt);
      finder.walk(*stmt);
    }
  }
  if (finder.failed) return std::nullopt;
  auto& calls = finder.found.time_calls;
  std::sort(calls.begin(), calls.end(),
            [](const TimeCall& a, const TimeCall& b) { return a.begin < b.begin; });
  // Spans that overlap or leave the text would mean the tree and the text disagree: no pins.
  size_t at = 0;
  for (const auto& call : calls) {
    if (call.begin < at || call.end <= call.begin || call.end > sql.size()) return std::nullopt;
    at = call.end;
  }
  return std::move(finder.found);
}

std::string pin_time(std::string_view sql, const std::vector<TimeCall>& calls,
                     std::string_view transaction, std::string_view statement, TextMap* rewrites) {
  std::string out;
  size_t at = 0;
  for (const auto& call : calls) {
    out.append(sql.substr(at, call.begin - at));
    std::string instant =
        "CAST(" + std::string(call.per_statement ? statement : transaction) + " AS timestamptz)";
    // A precision or another type is applied to the instant the way PostgreSQL would.
    const size_t before = out.size();
    out += call.type == "timestamptz" ? instant : "CAST(" + instant + " AS " + call.type + ")";
    if (rewrites != nullptr) rewrites->edit(call.begin, call.end - call.begin, out.size() - before);
    at = call.end;
  }
  out.append(sql.substr(at));
  return out;
}

std::string timestamp_literal(int64_t unix_microseconds) {
  const time_t seconds = static_cast<time_t>(unix_microseconds / 1'000'000);
  const auto micros = static_cast<int>(unix_microseconds % 1'000'000);
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  char text[48];
  std::snprintf(text, sizeof text, "%04d-%02d-%02d %02d:%02d:%02d.%06d+00", utc.tm_year + 1900,
                utc.tm_mon + 1, utc.tm_mday, utc.tm_hour, utc.tm_min, utc.tm_sec, micros);
  return text;
}

}  // namespace cutover::router
