// Column defaults that differ per server (serial and identity keys, gen_random_uuid(), now()
// in a DEFAULT), pinned for mirrored INSERTs (simple protocol): cutover learns the target's
// columns from old's catalog (cached per session, dropped when DDL passes through any session
// or the session changes its settings), evaluates the differing defaults on old in one query
// of its own (time-only defaults need no query: they get the transaction's pinned instant),
// and rewrites the INSERT to name every value (router/insert_defaults.h). Old and new then
// run the same explicit row. What cannot be pinned is logged (mirror_nondeterministic) and
// the pair is marked for the comparator, never silently accepted.
#include "proxy/log.h"
#include "proxy/session.h"
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

std::optional<protocol::DataRow> decode_row(const std::string& body) {
  auto decoded = protocol::decode_backend('D', body);
  if (!decoded) return std::nullopt;
  return std::get<protocol::DataRow>(std::move(*decoded));
}

}  // namespace

// The columns of an INSERT's target, from the cache or old's catalog; null when old does not
// know the relation or did not answer.
asio::awaitable<const Session::TableDefaults*> Session::table_defaults(
    const router::InsertShape& shape) {
  std::string name = router::quote_identifier(shape.relation);
  if (!shape.schema.empty()) name = router::quote_identifier(shape.schema) + "." + name;
  if (auto it = defaults_cache_.find(name); it != defaults_cache_.end()) co_return &it->second;
  auto answer = co_await query_own_on_old(columns_query(router::quote_literal(name)));
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
  co_return &defaults_cache_.emplace(std::move(name), std::move(table)).first->second;
}

// `sql` (a mirrored Query's text) with every value a differing default would give named
// explicitly; empty when there is nothing to pin or it cannot be pinned.
asio::awaitable<std::string> Session::pin_defaults(std::string_view sql,
                                                   const router::Classification& unit) {
  auto plan = co_await plan_defaults(sql, unit.fingerprint);
  if (!plan) co_return std::string();
  if (!plan->evaluated.empty() && !co_await evaluate_on_old(*plan)) {
    mirror_unpinned_ = true;
    note_unpinned(unit.fingerprint, "defaults: old did not evaluate them");
    co_return std::string();
  }
  co_return router::fill_defaults(sql, plan->shapes, plan->tables, plan->filled);
}

// Extended-protocol INSERTs are not rewritten (a prepared statement is parsed once and run
// many times with other values): one that leaves a differing default to the servers is
// reported, and its pair marked for the comparator.
asio::awaitable<void> Session::check_extended_defaults(const router::BatchPlan& batch) {
  for (const auto& insert : batch.inserts) {
    auto plan = co_await plan_defaults(insert.sql, insert.fingerprint);
    if (!plan) continue;
    mirror_unpinned_ = true;
    note_unpinned(insert.fingerprint,
                  "extended protocol: defaults of " + plan->shapes.front().relation);
  }
}

// Which values of `sql`'s INSERTs differing defaults would give, and how each is to be had:
// a pinned expression, or (listed in `evaluated`) a value old must compute. nullopt when
// there is none (or none that can be pinned: then reported under `fingerprint`).
asio::awaitable<std::optional<Session::DefaultsPlan>> Session::plan_defaults(std::string_view sql,
                                                                             uint64_t fingerprint) {
  if (transaction_status_ == 'E' || nonstandard_strings_) co_return std::nullopt;
  // Forgotten here, never while a plan holds pointers into the cache. A session writing to
  // more than kMaxTables tables looks them up again.
  constexpr size_t kMaxTables = 256;
  if (const uint64_t version = context_.schema_version.load();
      version != defaults_schema_version_ || defaults_cache_.size() >= kMaxTables) {
    forget_table_defaults();
    defaults_schema_version_ = version;
  }
  if (defaults_unneeded_.contains(fingerprint)) co_return std::nullopt;
  auto shapes = router::find_inserts(sql);
  if (!shapes || shapes->empty()) co_return std::nullopt;
  DefaultsPlan plan;
  plan.shapes = std::move(*shapes);
  bool unpinned = false;
  std::pair<std::string, std::string> instants;  // now() and statement_timestamp(), once needed
  static const std::vector<router::TableColumn> no_columns;
  for (size_t i = 0; i < plan.shapes.size(); ++i) {
    const TableDefaults* table = co_await table_defaults(plan.shapes[i]);
    // Unknown to old (so far: an earlier statement of the same Query may create it), or a
    // shape that cannot be filled: its defaults, if any differ, go unpinned.
    auto slots = table == nullptr
                     ? std::nullopt
                     : router::default_slots(i, plan.shapes[i], table->columns, table->kinds);
    plan.tables.push_back(table == nullptr ? &no_columns : &table->columns);
    if (!slots) {
      unpinned = mirror_unpinned_ = true;
      note_unpinned(fingerprint, "defaults of " + plan.shapes[i].relation);
      continue;
    }
    for (const router::DefaultSlot& slot : *slots) {
      const router::TableColumn& column = table->columns[slot.column];
      const router::DefaultKind& kind = table->kinds[slot.column];
      if (!kind.time_calls.empty() && instants.first.empty()) instants = pinned_instants();
      std::string value = "(";
      value
          .append(router::pin_time(column.default_expression, kind.time_calls, instants.first,
                                   instants.second))
          .append(")");
      if (!kind.time_only) {
        if (!plan.evaluations.empty()) plan.evaluations.append(", ");
        plan.evaluations.append(value).append("::text");
        plan.evaluated.push_back(plan.filled.size());
      }
      plan.filled.push_back({slot, std::move(value)});
    }
  }
  if (plan.filled.empty()) {
    // Its targets' defaults give every server the same value: skip the parse next time.
    constexpr size_t kMaxRemembered = 1024;
    if (!unpinned && defaults_unneeded_.size() < kMaxRemembered) {
      defaults_unneeded_.insert(fingerprint);
    }
    co_return std::nullopt;
  }
  co_return plan;
}

// Runs the evaluations (in one array, so old computes each exactly once and in order) and
// puts each value, as a literal of its column's type, into its slot.
asio::awaitable<bool> Session::evaluate_on_old(DefaultsPlan& plan) {
  auto answer =
      co_await query_own_on_old("SELECT v FROM pg_catalog.unnest(ARRAY[" + plan.evaluations +
                                "]::text[]) WITH ORDINALITY AS cutover_defaults(v, n) ORDER BY n");
  if (!answer || !answer->sqlstate.empty() || answer->data_rows.size() != plan.evaluated.size()) {
    co_return false;
  }
  for (size_t i = 0; i < plan.evaluated.size(); ++i) {
    auto row = decode_row(answer->data_rows[i]);
    if (!row || row->columns.size() != 1) co_return false;
    router::FilledSlot& slot = plan.filled[plan.evaluated[i]];
    const router::TableColumn& column = (*plan.tables[slot.slot.insert])[slot.slot.column];
    slot.value = row->columns[0] ? "CAST(" + router::quote_literal(*row->columns[0]) + " AS " +
                                       column.type + ")"
                                 : "NULL";
  }
  co_return true;
}

// What the session learnt of tables' columns is stale: DDL ran, or a setting such as
// search_path changed what a name means.
void Session::forget_table_defaults() {
  defaults_cache_.clear();
  defaults_unneeded_.clear();
}

// Runs a statement of cutover's own on old and returns its answer, rows and all; nothing of
// it reaches the client.
asio::awaitable<std::optional<HeldAnswer>> Session::query_own_on_old(std::string_view sql) {
  std::string message;
  protocol::encode(protocol::Query{.sql = std::string(sql)}, message);
  old_filter_.keep_answer(0);
  co_return co_await run_on_old(message, 1);
}

}  // namespace cutover::proxy
