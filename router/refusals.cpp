#include "router/refusals.h"

#include <algorithm>
#include <array>
#include <boost/json.hpp>  // compiled in parse_tree.cpp

#include "router/insert_defaults.h"
#include "router/parse_tree.h"
#include "router/pinning.h"

namespace cutover::router {
namespace {

namespace json = boost::json;

// The member `key` of an object; nullptr when `value` is not an object (or nullptr) or lacks it.
const json::value* member(const json::value* value, std::string_view key) {
  return value != nullptr && value->is_object() ? value->get_object().if_contains(key) : nullptr;
}

std::string_view text_at(const json::value* value, std::string_view key) {
  const json::value* found = member(value, key);
  return found != nullptr && found->is_string() ? std::string_view(found->get_string()) : "";
}

// Whether an expression calls a function that gives each server its own value, or reads the
// clock (CURRENT_TIMESTAMP and its kin).
bool computed_per_server(const json::value& value) {
  if (value.is_array()) {
    const auto& items = value.get_array();
    return std::any_of(items.begin(), items.end(), computed_per_server);
  }
  if (!value.is_object()) return false;
  for (const auto& [key, child] : value.get_object()) {
    if (key == "SQLValueFunction") {
      const std::string_view op = text_at(&child, "op");
      if (op.starts_with("SVFOP_CURRENT_DATE") || op.starts_with("SVFOP_CURRENT_TIME") ||
          op.starts_with("SVFOP_LOCAL")) {
        return true;
      }
    }
    if (key == "FuncCall") {
      const json::value* names = member(&child, "funcname");
      if (names != nullptr && names->is_array() && !names->get_array().empty() &&
          nondeterministic_function(
              text_at(member(&names->get_array().back(), "String"), "sval"))) {
        return true;
      }
    }
    if (computed_per_server(child)) return true;
  }
  return false;
}

// A column an ALTER TABLE adds or retypes whose values for the existing rows each server
// would compute for itself.
bool fills_per_server(const json::value& column, bool adds) {
  if (const json::value* using_expression = member(&column, "raw_default")) {
    if (computed_per_server(*using_expression)) return true;
  }
  if (!adds) return false;
  const json::value* type_names = member(member(&column, "typeName"), "names");
  if (type_names != nullptr && type_names->is_array() && !type_names->get_array().empty()) {
    const std::string_view type =
        text_at(member(&type_names->get_array().back(), "String"), "sval");
    static constexpr std::string_view kSerials[] = {"serial",  "serial2",     "serial4",
                                                    "serial8", "smallserial", "bigserial"};
    if (std::find(std::begin(kSerials), std::end(kSerials), type) != std::end(kSerials)) {
      return true;
    }
  }
  const json::value* constraints = member(&column, "constraints");
  if (constraints == nullptr || !constraints->is_array()) return false;
  for (const json::value& item : constraints->get_array()) {
    const json::value* constraint = member(&item, "Constraint");
    const std::string_view type = text_at(constraint, "contype");
    if (type == "CONSTR_IDENTITY") return true;
    const json::value* expression = member(constraint, "raw_expr");
    if (type == "CONSTR_DEFAULT" && expression != nullptr && computed_per_server(*expression)) {
      return true;
    }
  }
  return false;
}

// The first column of an ALTER TABLE in `sql` that fills_per_server(), as "t.c"; empty: none.
std::string column_filled_per_server(std::string_view sql) {
  const auto tree = parse_tree(sql);
  const json::value* statements = tree ? member(&*tree, "stmts") : nullptr;
  if (statements == nullptr || !statements->is_array()) return {};
  for (const json::value& entry : statements->get_array()) {
    const json::value* alter = member(member(&entry, "stmt"), "AlterTableStmt");
    const json::value* commands = member(alter, "cmds");
    if (commands == nullptr || !commands->is_array()) continue;
    for (const json::value& item : commands->get_array()) {
      const json::value* command = member(&item, "AlterTableCmd");
      const std::string_view subtype = text_at(command, "subtype");
      const json::value* column = member(member(command, "def"), "ColumnDef");
      if (column == nullptr || (subtype != "AT_AddColumn" && subtype != "AT_AlterColumnType")) {
        continue;
      }
      if (fills_per_server(*column, subtype == "AT_AddColumn")) {
        const std::string_view name =
            subtype == "AT_AddColumn" ? text_at(column, "colname") : text_at(command, "name");
        return std::string(text_at(member(alter, "relation"), "relname")) + "." + std::string(name);
      }
    }
  }
  return {};
}

}  // namespace

std::string_view reason_name(RefusalReason reason) {
  static constexpr std::array<std::string_view, kRefusalReasons> kNames = {"two_phase",
                                                                           "copies",
                                                                           "unsafe_ddl",
                                                                           "unsafe_write",
                                                                           "fast_path",
                                                                           "journal_unwritable",
                                                                           "transaction_too_large",
                                                                           "data_dependent"};
  return kNames[static_cast<size_t>(reason)];
}

std::optional<Refusal> refusal_while_mirroring(const Classification& unit, std::string_view sql) {
  if (unit.two_phase) {
    // A transaction prepared on old would have to be prepared on new in the same step, and
    // finished on both by whoever commits it later: neither can be promised across two servers.
    return Refusal{
        .message =
            "cutover: two-phase commit (PREPARE TRANSACTION, COMMIT PREPARED, ROLLBACK "
            "PREPARED) cannot be mirrored to the new database",
        .hint =
            "End the transaction with COMMIT or ROLLBACK; cutover mirrors it to both "
            "databases. Finish transactions prepared before the migration directly on the "
            "old database.",
        .reason = RefusalReason::kTwoPhase};
  }
  if (unit.copies_in_statements > 1) {
    return Refusal{.message =
                       "cutover: a query with more than one COPY FROM STDIN cannot be mirrored to "
                       "the new database",
                   .hint = "Send each COPY ... FROM STDIN as a query of its own.",
                   .reason = RefusalReason::kCopies};
  }
  if (unit.kind != Kind::kDdl) return std::nullopt;
  const std::string column = column_filled_per_server(sql);
  if (column.empty()) return std::nullopt;
  return Refusal{
      .message = "cutover: ALTER TABLE would fill the existing rows' column " + column +
                 " with values the old and the new database each compute for themselves",
      .hint =
          "Add the column without a default (or with a constant one), fill it with UPDATE "
          "(cutover pins now() and the like there), then ALTER COLUMN ... SET DEFAULT.",
      .reason = RefusalReason::kUnsafeDdl};
}

Refusal unsafe_write_refusal(const std::string& what) {
  return Refusal{.message =
                     "cutover: this write stores values the old and the new database would each "
                     "compute for themselves (" +
                     what + "), so it cannot be mirrored",
                 .hint =
                     "Compute such values in the application or read them first (SELECT "
                     "gen_random_uuid(), nextval('s')) and write them as literals or parameters; "
                     "give large objects their OID (lo_create(<oid>), lo_from_bytea(<oid>, ...)); "
                     "defaults in INSERT ... VALUES are filled in by cutover. "
                     "migration.mirror.unsafe_writes: allow runs such writes anyway, each an open "
                     "divergence.",
                 .reason = RefusalReason::kUnsafeWrite};
}

Refusal data_dependent_refusal(std::string_view problem) {
  return Refusal{.message =
                     "cutover: this write chooses its rows or values by other data, which "
                     "the old and the new database may see in different states, and " +
                     std::string(problem) + ", so it cannot be mirrored",
                 .hint =
                     "Name the rows by their key (WHERE id = ...), or read the keys and values "
                     "first (SELECT ... FOR UPDATE) and write them by key. "
                     "migration.mirror.unsafe_writes: allow runs such writes anyway, each an "
                     "open divergence.",
                 .reason = RefusalReason::kDataDependent};
}

Refusal fast_path_refusal() {
  return Refusal{.message =
                     "cutover: a fast-path function call (libpq's large-object functions lo_open, "
                     "lo_write, ...) cannot be mirrored to the new database",
                 .hint =
                     "Call the server's functions in SQL instead (SELECT lo_put(...), lo_get(...), "
                     "lo_from_bytea(<oid>, ...)), which cutover mirrors like any statement.",
                 .reason = RefusalReason::kFastPath};
}

Refusal extended_copy_refusal() {
  return Refusal{.message =
                     "cutover: COPY FROM STDIN through the extended protocol cannot be mirrored to "
                     "the new database",
                 .hint =
                     "Send COPY ... FROM STDIN as a simple query (psql's \\copy, libpq's "
                     "PQexec, the drivers' copy APIs), which cutover mirrors.",
                 .reason = RefusalReason::kCopies};
}

Refusal journal_refusal(RefusalReason reason, std::string_view journal_dir) {
  if (reason == RefusalReason::kTransactionTooLarge) {
    return Refusal{.message =
                       "cutover: the transaction is too large for the mirror journal (over "
                       "64 MB), which must hold it for the new database, so it was not committed",
                   .hint = "Commit in smaller transactions while the migration mirrors writes.",
                   .reason = reason,
                   .sqlstate = "54000"};
  }
  return Refusal{.message = "cutover: the mirror journal at " + std::string(journal_dir) +
                            " cannot be written, and the new database needs this write from it, so "
                            "the write was not made",
                 .hint =
                     "Free space on the journal's disk: writes resume by themselves within a "
                     "second of it.",
                 .reason = reason,
                 .sqlstate = "53100"};
}

std::string raising_statement(const Refusal& refusal) {
  return "DO $cutover$ BEGIN RAISE EXCEPTION USING ERRCODE = " + quote_literal(refusal.sqlstate) +
         ", MESSAGE = " + quote_literal(refusal.message) +
         ", HINT = " + quote_literal(refusal.hint) + "; END $cutover$";
}

}  // namespace cutover::router
