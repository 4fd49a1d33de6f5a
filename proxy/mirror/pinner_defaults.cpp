// Column defaults that differ per server (serial and identity keys, gen_random_uuid(), now()
// in a DEFAULT), pinned for mirrored INSERTs (simple protocol): cutover learns the target's
// columns from old's catalog (cached per session, dropped when DDL passes through any session
// or the session changes its settings), evaluates the differing defaults on old in one query
// of its own (time-only defaults need no query: they get the transaction's pinned instant),
// and rewrites the INSERT to name every value (router/insert_defaults.h). Old and new then
// run the same explicit row. What cannot be pinned is logged (mirror_nondeterministic) and
// the pair is marked for the comparator, never silently accepted.
#include "protocol/backend.h"
#include "protocol/frontend.h"
#include "proxy/base/log.h"
#include "proxy/mirror/mirror_messages.h"
#include "proxy/mirror/pinner.h"
#include "router/pinning.h"

namespace cutover::proxy {
namespace {

// Old's catalog facts about a relation named as `literal` (a quoted SQL string holding the
// quoted name), in column order. Identity columns report the nextval() their sequence gives.
// The last column says whether the default calls a volatile function of the user's (found
// through pg_depend, which records those but not built-ins, which classify_default() knows).
std::string columns_query(const std::string& literal) {
  return "SELECT a.attname, pg_catalog.format_type(a.atttypid, a.atttypmod), "
         "a.attidentity::text, (a.attgenerated <> '')::text, CASE WHEN a.attidentity <> '' "
         "THEN pg_catalog.format('nextval(%L::regclass)', pg_catalog.pg_get_serial_sequence("
         "a.attrelid::regclass::text, a.attname)) ELSE pg_catalog.pg_get_expr(d.adbin, "
         "d.adrelid) END, EXISTS (SELECT 1 FROM pg_catalog.pg_depend dep "
         "JOIN pg_catalog.pg_proc p ON p.oid = dep.refobjid "
         "WHERE dep.classid = 'pg_catalog.pg_attrdef'::pg_catalog.regclass AND dep.objid = d.oid "
         "AND dep.refclassid = 'pg_catalog.pg_proc'::pg_catalog.regclass "
         "AND p.provolatile = 'v')::text "
         "FROM pg_catalog.pg_attribute a LEFT JOIN pg_catalog.pg_attrdef d "
         "ON d.adrelid = a.attrelid AND d.adnum = a.attnum "
         "WHERE a.attrelid = pg_catalog.to_regclass(" +
         literal + ") AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum";
}

}  // namespace

// The columns of an INSERT's target, from the cache or old's catalog; null when old does not
// know the relation or did not answer.
asio::awaitable<const Pinner::TableDefaults*> Pinner::table_defaults(
    const router::InsertShape& shape) {
  std::string name = router::quote_identifier(shape.relation);
  if (!shape.schema.empty()) name = router::quote_identifier(shape.schema) + "." + name;
  if (auto it = tables_.find(name); it != tables_.end()) co_return &it->second;
  auto answer = co_await source_.query_own(columns_query(router::quote_literal(name)));
  if (!answer || !answer->sqlstate.empty() || answer->data_rows.empty()) co_return nullptr;
  TableDefaults table;
  for (const std::string& body : answer->data_rows) {
    auto row = decode_row(body);
    if (!row || row->columns.size() != 6 || !row->columns[0] || !row->columns[1]) {
      co_return nullptr;
    }
    router::TableColumn& column = table.columns.emplace_back();
    column.name = *row->columns[0];
    column.type = *row->columns[1];
    column.identity = row->columns[2] && !row->columns[2]->empty() ? (*row->columns[2])[0] : '\0';
    column.generated = row->columns[3] == "true";
    column.default_expression = row->columns[4].value_or("");
    router::DefaultKind kind = router::classify_default(column.default_expression);
    if (row->columns[5] == "true") {  // a volatile function of the user's: old must compute it
      kind.differs = true;
      kind.time_only = false;
    }
    table.kinds.push_back(std::move(kind));
  }
  co_return &tables_.emplace(std::move(name), std::move(table)).first->second;
}

// `sql` (a mirrored Query's text) with every value a differing default would give named
// explicitly; empty when there is nothing to pin or it cannot be pinned.
asio::awaitable<std::string> Pinner::pin_defaults(std::string_view sql,
                                                  const router::Classification& unit) {
  const auto [transaction, statement] = instants();
  const std::string at_transaction = router::quote_literal(transaction);
  const std::string at_statement = router::quote_literal(statement);
  auto plan = co_await plan_defaults(sql, unit.fingerprint, at_transaction, at_statement);
  if (!plan) co_return std::string();
  if (!plan->unpinned.empty()) note_unsafe(unit.fingerprint, plan->unpinned);
  // A table old does not know makes it refuse the INSERT with its own error (42P01), unless an
  // earlier statement of the same Query creates it: then each server fills its defaults.
  if (!plan->unknown.empty()) {
    const bool created_here = unit.kind == router::Kind::kDdl || unit.creates_temporary;
    if (created_here) note_unsafe(unit.fingerprint, plan->unknown + ", created in the same query");
    if (!created_here) note_unpinned(unit.fingerprint, plan->unknown);
  }
  if (plan->filled.empty()) co_return std::string();
  std::vector<std::string> expressions;
  for (const auto& evaluation : plan->evaluated) {
    expressions.push_back(router::pin_time(evaluation.column->default_expression,
                                           evaluation.kind->time_calls, at_transaction,
                                           at_statement));
  }
  auto values = co_await evaluate(expressions);
  if (!values) {
    note_unpinned(unit.fingerprint, "defaults: old did not evaluate them");
    co_return std::string();
  }
  for (size_t i = 0; i < values->size(); ++i) {
    const std::optional<std::string>& value = (*values)[i];
    plan->filled[plan->evaluated[i].slot].value = value ? "CAST(" + router::quote_literal(*value) +
                                                              " AS " +
                                                              plan->evaluated[i].column->type + ")"
                                                        : "NULL";
  }
  rewrites_.begin_rewrite();
  co_return router::fill_defaults(sql, plan->shapes, plan->tables, plan->filled, &rewrites_);
}

// The table cache as of the current schema version. Forgotten here, never while a plan holds
// pointers into it; a session writing to more than kMaxTables tables looks them up again.
void Pinner::tables_as_of_now() {
  constexpr size_t kMaxTables = 256;
  if (const uint64_t version = schema_version_.load();
      version != tables_version_ || tables_.size() >= kMaxTables) {
    forget_tables();
    tables_version_ = version;
  }
}

// The columns a COPY FROM STDIN leaves to defaults that differ per server, as "defaults of t
// (c, d)"; empty when there are none (or old does not know the table: it refuses the COPY).
asio::awaitable<std::string> Pinner::copy_defaults(std::string_view sql) {
  const std::optional<router::InsertShape> target = router::copy_target(sql);
  if (!target || target->columns.empty() || source_.transaction_status() == 'E') {
    co_return std::string();
  }
  tables_as_of_now();
  const TableDefaults* table = co_await table_defaults(*target);
  if (table == nullptr) co_return std::string();
  std::string omitted;
  for (size_t c = 0; c < table->columns.size(); ++c) {
    const router::TableColumn& column = table->columns[c];
    if (!table->kinds[c].differs || column.generated ||
        std::find(target->columns.begin(), target->columns.end(), column.name) !=
            target->columns.end()) {
      continue;
    }
    omitted += (omitted.empty() ? "" : ", ") + column.name;
  }
  co_return omitted.empty() ? omitted : "defaults of " + target->relation + " (" + omitted + ")";
}

// Which values of `sql`'s INSERTs differing defaults would give, and how each is to be had:
// an expression pinned to the instants `transaction` and `statement` (SQL expressions, see
// router::pin_time()), or (listed in `evaluated`, its value left for the caller) a value old
// must compute. nullopt when there is none.
asio::awaitable<std::optional<Pinner::DefaultsPlan>> Pinner::plan_defaults(
    std::string_view sql, uint64_t fingerprint, std::string_view transaction,
    std::string_view statement) {
  if (source_.transaction_status() == 'E' || !standard_strings_) co_return std::nullopt;
  tables_as_of_now();
  if (defaults_unneeded_.contains(fingerprint)) co_return std::nullopt;
  auto shapes = router::find_inserts(sql);
  if (!shapes || shapes->empty()) co_return std::nullopt;
  DefaultsPlan plan;
  plan.shapes = std::move(*shapes);
  static const std::vector<router::TableColumn> no_columns;
  for (size_t i = 0; i < plan.shapes.size(); ++i) {
    const TableDefaults* table = co_await table_defaults(plan.shapes[i]);
    plan.tables.push_back(table == nullptr ? &no_columns : &table->columns);
    if (table == nullptr) {  // unknown to old so far
      if (!plan.unknown.empty()) plan.unknown += ", ";
      plan.unknown += "defaults of " + plan.shapes[i].relation;
      continue;
    }
    // A shape that cannot be filled: its defaults, if any differ, go unpinned.
    auto slots = router::default_slots(i, plan.shapes[i], table->columns, table->kinds);
    if (!slots) {
      if (!plan.unpinned.empty()) plan.unpinned += ", ";
      plan.unpinned += "defaults of " + plan.shapes[i].relation;
      continue;
    }
    for (const router::DefaultSlot& slot : *slots) {
      const router::TableColumn& column = table->columns[slot.column];
      const router::DefaultKind& kind = table->kinds[slot.column];
      std::string value;
      if (kind.time_only) {
        value.append("(")
            .append(router::pin_time(column.default_expression, kind.time_calls, transaction,
                                     statement))
            .append(")");
      } else {
        plan.evaluated.push_back({plan.filled.size(), &column, &kind});
      }
      plan.filled.push_back({slot, std::move(value)});
    }
  }
  if (plan.filled.empty() && plan.unpinned.empty() && plan.unknown.empty()) {
    // Its targets' defaults give every server the same value: skip the parse next time.
    constexpr size_t kMaxRemembered = 1024;
    if (defaults_unneeded_.size() < kMaxRemembered) defaults_unneeded_.insert(fingerprint);
    co_return std::nullopt;
  }
  co_return plan;
}

// Has old compute `expressions` (in one array, so each exactly once and in order); their
// values as text (nullopt: NULL), or nullopt when old did not answer them.
asio::awaitable<std::optional<Pinner::Values>> Pinner::evaluate(
    const std::vector<std::string>& expressions) {
  Values values;
  if (expressions.empty()) co_return values;
  std::string array;
  for (const std::string& expression : expressions) {
    if (!array.empty()) array += ", ";
    array.append("(").append(expression).append(")::text");
  }
  auto answer =
      co_await source_.query_own("SELECT v FROM pg_catalog.unnest(ARRAY[" + array +
                                 "]::text[]) WITH ORDINALITY AS cutover_defaults(v, n) ORDER BY n");
  if (!answer || !answer->sqlstate.empty() || answer->data_rows.size() != expressions.size()) {
    co_return std::nullopt;
  }
  for (const std::string& body : answer->data_rows) {
    auto row = decode_row(body);
    if (!row || row->columns.size() != 1) co_return std::nullopt;
    values.push_back(std::move(row->columns[0]));
  }
  co_return values;
}

// What the session learnt of tables' columns is stale: DDL ran, or a setting such as
// search_path changed what a name means.
void Pinner::forget_tables() {
  tables_.clear();
  defaults_unneeded_.clear();
  volatile_functions_.clear();
}

}  // namespace cutover::proxy
