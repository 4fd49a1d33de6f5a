#include "router/classify.h"

#include <xxhash.h>

#include <algorithm>
#include <array>
#include <boost/json.hpp>
#include <cctype>
#include <optional>

#include "router/normalize.h"
#include "router/parse_tree.h"
#include "router/pinning.h"

namespace cutover::router {
namespace {

namespace json = boost::json;

// PostgreSQL 15's pg_catalog functions that cannot write: the immutable and stable ones, plus a
// few volatile ones that only read (generated from the catalog; see the file's header).
const std::unordered_set<std::string_view>& builtin_read_only() {
  static const std::unordered_set<std::string_view> names = {
#include "router/builtin_functions.inc"
  };
  return names;
}

// Built-ins whose effect is on the session (or its transaction), not on data: they must run
// where the session's other state is, but change nothing a mirror would need.
bool session_function(std::string_view name) {
  return name == "set_config" || name == "setseed" || name.starts_with("pg_advisory_") ||
         name.starts_with("pg_try_advisory_");
}

// Built-ins whose answer is about the server or the backend that runs them (its process, its
// address, its transaction, its sequences' session values, its settings' load time, ...).
bool server_function(std::string_view name) {
  static const std::unordered_set<std::string_view> names = {"pg_backend_pid",
                                                             "inet_server_addr",
                                                             "inet_server_port",
                                                             "inet_client_addr",
                                                             "inet_client_port",
                                                             "pg_postmaster_start_time",
                                                             "pg_conf_load_time",
                                                             "pg_my_temp_schema",
                                                             "pg_is_other_temp_schema",
                                                             "pg_trigger_depth",
                                                             "pg_listening_channels",
                                                             "pg_notification_queue_usage",
                                                             "pg_blocking_pids",
                                                             "pg_safe_snapshot_blocking_pids",
                                                             "txid_current",
                                                             "txid_current_if_assigned",
                                                             "txid_current_snapshot",
                                                             "pg_current_xact_id",
                                                             "pg_current_xact_id_if_assigned",
                                                             "pg_current_snapshot",
                                                             "pg_current_wal_lsn",
                                                             "pg_current_wal_insert_lsn",
                                                             "pg_current_wal_flush_lsn",
                                                             "currval",
                                                             "lastval",
                                                             "version",
                                                             "pg_stat_get_activity",
                                                             "pg_get_backend_memory_contexts"};
  return names.contains(name);
}

// Catalog views whose rows describe the server's sessions, locks and statistics.
bool server_view(std::string_view name) {
  return name.starts_with("pg_stat") || name == "pg_locks" || name == "pg_prepared_statements" ||
         name == "pg_cursors" || name == "pg_prepared_xacts" ||
         name == "pg_backend_memory_contexts" || name.starts_with("pg_replication_");
}

bool has_prefix(std::string_view type, std::initializer_list<std::string_view> prefixes) {
  return std::any_of(prefixes.begin(), prefixes.end(),
                     [&](std::string_view p) { return type.starts_with(p); });
}

std::string_view string_at(const json::object& node, std::string_view key) {
  const json::value* v = node.if_contains(key);
  return v != nullptr && v->is_string() ? std::string_view(v->get_string()) : std::string_view();
}

const json::object* object_at(const json::object& node, std::string_view key) {
  const json::value* v = node.if_contains(key);
  return v != nullptr && v->is_object() ? &v->get_object() : nullptr;
}

// Whether a RangeVar (directly, or under "rel" as in an IntoClause) is a temporary relation.
bool temporary(const json::object* range_var) {
  if (range_var == nullptr) return false;
  if (const auto* rel = object_at(*range_var, "rel")) range_var = rel;
  return string_at(*range_var, "relpersistence") == "t";
}

// A boolean option's value as PostgreSQL reads it (defGetBoolean); nullopt when this code
// cannot tell, so each caller picks its own safe side.
std::optional<bool> boolean_value(const json::object* arg) {
  if (arg == nullptr) return true;  // EXPLAIN (ANALYZE) with no value
  if (const auto* constant = object_at(*arg, "A_Const")) arg = constant;
  if (const auto* integer = object_at(*arg, "ival"))
    return integer->contains("ival");  // 0 is omitted
  if (const auto* integer = object_at(*arg, "Integer")) return integer->contains("ival");
  if (const auto* boolean = object_at(*arg, "Boolean")) return boolean->contains("boolval");
  const auto* string = object_at(*arg, "String");
  if (string == nullptr) string = object_at(*arg, "sval");
  if (string == nullptr) return std::nullopt;
  std::string text(string_at(*string, "sval"));
  for (char& c : text) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (text == "true" || text == "on" || text == "yes" || text == "1") return true;
  if (text == "false" || text == "off" || text == "no" || text == "0") return false;
  return std::nullopt;
}

// The value of option `name` in a list of DefElem options (BEGIN, SET TRANSACTION, EXPLAIN);
// false when absent.
std::optional<bool> option_value(const json::object& node, std::string_view list,
                                 std::string_view name) {
  const json::value* options = node.if_contains(list);
  if (options == nullptr || !options->is_array()) return false;
  for (const auto& option : options->get_array()) {
    const auto* def = option.is_object() ? object_at(option.get_object(), "DefElem") : nullptr;
    if (def != nullptr && string_at(*def, "defname") == name) {
      return boolean_value(object_at(*def, "arg"));
    }
  }
  return false;
}

// Whether a statement cannot run inside a transaction block (PostgreSQL's
// PreventInTransactionBlock): cutover must not wrap it in a transaction of its own.
bool runs_outside_transactions(std::string_view type, const json::object& node) {
  static constexpr std::string_view kAlways[] = {"VacuumStmt",           "CreatedbStmt",
                                                 "DropdbStmt",           "AlterDatabaseStmt",
                                                 "AlterSystemStmt",      "CreateTableSpaceStmt",
                                                 "DropTableSpaceStmt",   "CreateSubscriptionStmt",
                                                 "DropSubscriptionStmt", "AlterSubscriptionStmt"};
  if (std::find(std::begin(kAlways), std::end(kAlways), type) != std::end(kAlways)) return true;
  if (type == "IndexStmt" || type == "DropStmt") return node.contains("concurrent");
  if (type == "ReindexStmt") return option_value(node, "params", "concurrently") != false;
  if (type == "ClusterStmt") return !node.contains("relation");  // CLUSTER of every table
  return false;
}

}  // namespace

bool builtin_read_only_function(std::string_view name) {
  return builtin_read_only().contains(name);
}

std::string_view kind_name(Kind kind) {
  static constexpr std::array<std::string_view, 6> kNames = {"read",    "transaction", "session",
                                                             "unknown", "write",       "ddl"};
  return kNames[static_cast<size_t>(kind)];
}

// One parse tree being classified.
struct Classifier::Walk {
  const Classifier& owner;
  Classification& result;

  // A created relation is session state when temporary (and then flagged), DDL otherwise.
  Kind temporary_kind(const json::object* range_var) {
    if (range_var != nullptr) {
      const json::object* rel = object_at(*range_var, "rel");  // an IntoClause's
      table(rel != nullptr ? *rel : *range_var);
    }
    if (!temporary(range_var)) return Kind::kDdl;
    result.creates_temporary = true;
    return Kind::kSession;
  }

  // What one top-level statement is; `type` is its node name ("SelectStmt", ...).
  Kind statement(std::string_view type, const json::object& node) {
    if (type == "SelectStmt") {
      if (const auto* into = object_at(node, "intoClause")) {
        scan(node);                   // what it calls (now(), random()) and reads
        return temporary_kind(into);  // SELECT ... INTO
      }
      return std::max(Kind::kRead, scan(node));
    }
    result.refuses_transaction_block |= runs_outside_transactions(type, node);
    if (type == "InsertStmt") result.inserts = true;
    if (type == "UpdateStmt" || type == "DeleteStmt") result.changes_rows = true;
    if ((type == "InsertStmt" || type == "UpdateStmt" || type == "DeleteStmt" ||
         type == "MergeStmt") &&
        !node.contains("returningList")) {
      result.writes_without_returning = true;
    }
    if (type == "InsertStmt" || type == "UpdateStmt" || type == "DeleteStmt" ||
        type == "MergeStmt" || type == "TruncateStmt" || type == "DoStmt" || type == "CallStmt" ||
        type == "LockStmt" || type == "NotifyStmt" || type == "VacuumStmt" ||
        type == "CheckPointStmt") {
      scan(node);  // for the table names
      return Kind::kWrite;
    }
    if (type == "CopyStmt") {
      Kind inside = scan(node);
      if (!node.contains("is_from")) return std::max(Kind::kRead, inside);
      if (!node.contains("filename")) {
        result.copies_in = true;
        ++result.copies_in_statements;
      }
      return Kind::kWrite;
    }
    if (type == "ExplainStmt") {
      // Plain EXPLAIN runs nothing; EXPLAIN ANALYZE runs its statement.
      const auto* query = object_at(node, "query");
      // An ANALYZE value this code cannot read counts as on: the statement is then judged.
      if (option_value(node, "options", "analyze") == false || query == nullptr || query->empty()) {
        return Kind::kRead;
      }
      const auto& [inner_type, inner] = *query->begin();
      const Kind inner_kind =
          inner.is_object() ? statement(inner_type, inner.get_object()) : Kind::kUnknown;
      result.writes_without_returning = false;  // EXPLAIN returns rows of its own
      return inner_kind;
    }
    if (type == "VariableShowStmt") return Kind::kRead;
    if (type == "TransactionStmt") {
      result.controls_transaction = true;
      const std::string_view kind = string_at(node, "kind");
      result.commits |= kind == "TRANS_STMT_COMMIT";  // COMMIT and END
      result.two_phase |= kind == "TRANS_STMT_PREPARE" || kind == "TRANS_STMT_COMMIT_PREPARED" ||
                          kind == "TRANS_STMT_ROLLBACK_PREPARED";
      // Only a certain READ ONLY lets the transaction's reads leave the source of truth.
      result.read_only_transaction |=
          option_value(node, "options", "transaction_read_only") == true;
      return Kind::kTransaction;
    }
    if (type == "VariableSetStmt") {
      std::string_view name = string_at(node, "name");
      if (name == "TRANSACTION SNAPSHOT") return Kind::kTransaction;
      if (name != "TRANSACTION") return Kind::kSession;
      result.read_only_transaction |= option_value(node, "args", "transaction_read_only") == true;
      return Kind::kTransaction;
    }
    if (type == "DeallocateStmt" && !string_at(node, "name").empty()) {
      result.deallocates.emplace_back(string_at(node, "name"));
    } else if (type == "DeallocateStmt" || type == "DiscardStmt") {
      result.forgets_prepared = true;
    }
    if (type == "PrepareStmt" || type == "DeallocateStmt" || type == "ListenStmt" ||
        type == "UnlistenStmt" || type == "DeclareCursorStmt" || type == "FetchStmt" ||
        type == "ClosePortalStmt" || type == "DiscardStmt" || type == "LoadStmt" ||
        type == "ConstraintsSetStmt") {
      return Kind::kSession;
    }
    if (type == "ExecuteStmt") return Kind::kUnknown;  // the prepared text is not visible here
    if (type == "CreateStmt") return temporary_kind(object_at(node, "relation"));
    if (type == "CreateTableAsStmt") {
      scan(node);  // what it calls (now(), random()) and reads
      return temporary_kind(object_at(node, "into"));
    }
    if (type == "ViewStmt") return temporary_kind(object_at(node, "view"));
    if (type == "CreateSeqStmt") return temporary_kind(object_at(node, "sequence"));
    if (has_prefix(type, {"Create", "Alter", "Drop", "Grant", "Rename", "Comment", "SecLabel",
                          "Reindex", "Cluster", "RefreshMatView", "ImportForeignSchema", "Define",
                          "Index", "Rule", "CompositeType", "ReassignOwned"})) {
      if (const json::object* target = object_at(node, "relation")) table(*target);
      return Kind::kDdl;
    }
    return Kind::kUnknown;
  }

  // The highest kind found inside an expression tree: data-modifying statements and locking
  // clauses anywhere (CTEs, subqueries) are writes; so are calls of functions not known to be
  // read-only. Collects table names on the way.
  Kind scan(const json::value& value) {
    Kind found = Kind::kRead;
    if (value.is_array()) {
      for (const auto& item : value.get_array()) found = std::max(found, scan(item));
      return found;
    }
    if (!value.is_object()) return found;
    return scan(value.get_object());
  }

  Kind scan(const json::object& node) {
    Kind found = Kind::kRead;
    for (const auto& [key, child] : node) {
      bool modifies =
          key == "InsertStmt" || key == "UpdateStmt" || key == "DeleteStmt" || key == "MergeStmt";
      bool locks = key == "lockingClause" && child.is_array() && !child.get_array().empty();
      if (modifies || locks) {
        found = Kind::kWrite;
        result.inserts |= key == "InsertStmt";
      } else if (key == "FuncCall" && child.is_object()) {
        found = std::max(found, function(child.get_object()));
      } else if (key == "SQLValueFunction") {
        result.nondeterministic = true;  // CURRENT_TIMESTAMP and the like (also CURRENT_USER)
      } else if ((key == "RangeVar" || key == "relation") && child.is_object()) {
        table(child.get_object());  // "relation": a write's target, a RangeVar without its name
      }
      found = std::max(found, scan(child));
    }
    return found;
  }

  Kind function(const json::object& call) {
    const json::value* names = call.if_contains("funcname");
    if (names == nullptr || !names->is_array()) return Kind::kUnknown;
    std::vector<std::string_view> parts;
    for (const auto& part : names->get_array()) {
      const auto* string = part.is_object() ? object_at(part.get_object(), "String") : nullptr;
      if (string != nullptr) parts.push_back(string_at(*string, "sval"));
    }
    if (parts.empty()) return Kind::kUnknown;
    std::string_view name = parts.back();
    result.nondeterministic |= nondeterministic_function(name) || large_object_function(name);
    std::string_view catalog = parts.size() > 1 ? parts[parts.size() - 2] : std::string_view();
    result.server_bound |= (catalog.empty() || catalog == "pg_catalog") && server_function(name);
    std::string_view schema = parts.size() > 1 ? parts[parts.size() - 2] : std::string_view();
    std::string qualified =
        schema.empty() ? std::string(name) : std::string(schema) + "." + std::string(name);
    // Unqualified names resolve to pg_catalog first unless search_path says otherwise.
    if (schema.empty() || schema == "pg_catalog") {
      if (session_function(name)) return Kind::kSession;
      if (builtin_read_only_function(name)) return Kind::kRead;
    }
    result.calls_unknown_functions = true;  // even one that only reads may be volatile
    return owner.safe_functions_.contains(qualified) ? Kind::kRead : Kind::kWrite;
  }

  void table(const json::object& range_var) {
    std::string name(string_at(range_var, "relname"));
    if (name.empty()) return;
    const std::string_view schema_name = string_at(range_var, "schemaname");
    result.server_bound |=
        (schema_name.empty() || schema_name == "pg_catalog") && server_view(name);
    if (auto schema = string_at(range_var, "schemaname"); !schema.empty()) {
      name = std::string(schema) + "." + name;
    }
    if (std::find(result.tables.begin(), result.tables.end(), name) == result.tables.end()) {
      result.tables.push_back(std::move(name));
    }
  }
};

Classifier::Classifier(const std::vector<std::string>& safe_functions)
    : safe_functions_(safe_functions.begin(), safe_functions.end()) {}

uint64_t fingerprint(std::string_view sql) {
  std::string key = normalize_literals(sql);
  return XXH3_64bits(key.data(), key.size());
}

Classification Classifier::classify(std::string_view sql) const {
  Classification result;
  result.fingerprint = fingerprint(sql);
  const auto tree = parse_tree(sql, &result.error);
  if (!tree) return result;  // unknown
  const json::value* statements =
      tree->is_object() ? tree->get_object().if_contains("stmts") : nullptr;
  if (statements == nullptr) {
    // An empty query (only whitespace, comments or semicolons) has no statements.
    result.kind = Kind::kRead;
    return result;
  }
  Walk walk{*this, result};
  Kind kind = Kind::kRead;
  for (const auto& entry : statements->get_array()) {
    const auto* stmt = entry.is_object() ? object_at(entry.get_object(), "stmt") : nullptr;
    if (stmt == nullptr || stmt->empty() || !stmt->begin()->value().is_object()) {
      kind = std::max(kind, Kind::kUnknown);
      continue;
    }
    const auto& [type, node] = *stmt->begin();
    kind = std::max(kind, walk.statement(type, node.get_object()));
  }
  result.kind = kind;
  return result;
}

ClassificationCache::ClassificationCache(const Classifier& classifier, size_t capacity)
    : classifier_(classifier), capacity_(std::max<size_t>(capacity, 1)) {}

const Classification& ClassificationCache::classify(std::string_view sql) {
  std::string key = normalize_literals(sql);
  if (auto it = index_.find(key); it != index_.end()) {
    ++hits_;
    entries_.splice(entries_.begin(), entries_, it->second);
    return it->second->second;
  }
  ++misses_;
  entries_.emplace_front(std::move(key), classifier_.classify(sql));
  index_.emplace(entries_.front().first, entries_.begin());
  if (entries_.size() > capacity_) {
    index_.erase(entries_.back().first);
    entries_.pop_back();
  }
  return entries_.front().second;
}

}  // namespace cutover::router
