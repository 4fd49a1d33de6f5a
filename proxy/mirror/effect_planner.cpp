#include "proxy/mirror/effect_planner.h"

#include <algorithm>
#include <utility>
#include <variant>

#include "protocol/backend.h"
#include "proxy/mirror/mirror_messages.h"
#include "router/insert_defaults.h"
#include "verify/row_effects.h"

namespace cutover::proxy {
namespace {

// What old's catalog says of a relation, as rows (found, kind, name): kind 'k' for each key
// column, in the key's order; one row of kind 'w' when RETURNING gives its rows as they are,
// for witnesses (a table or partitioned table without row security or rules, readable by the
// session's user). The key is the primary key, else the unique key of NOT NULL columns
// with the fewest columns (a NULL in a unique column would let two rows share a "key"). One
// row (true, NULL, NULL) when there is neither; a false first column when the relation is
// unknown, never an error (which would abort the client's transaction).
std::string table_query(const std::string& relation_literal) {
  return "SELECT c.oid IS NOT NULL, x.kind, x.name FROM (SELECT pg_catalog.to_regclass(" +
         relation_literal +
         ") AS oid) c LEFT JOIN LATERAL (SELECT 'k' AS kind, a.attname::text AS name, u.n FROM "
         "(SELECT i.indrelid, i.indkey, i.indnkeyatts FROM pg_catalog.pg_index i WHERE "
         "i.indrelid = c.oid AND i.indisunique AND i.indimmediate AND i.indisvalid AND "
         "i.indpred IS NULL AND i.indexprs IS NULL AND NOT EXISTS (SELECT FROM "
         "pg_catalog.pg_attribute n WHERE n.attrelid = i.indrelid AND n.attnum = ANY (i.indkey) "
         "AND NOT n.attnotnull) ORDER BY i.indisprimary DESC, i.indnkeyatts, i.indexrelid LIMIT "
         "1) k CROSS JOIN LATERAL pg_catalog.unnest(CAST(k.indkey AS int2[])) WITH ORDINALITY "
         "AS u(attnum, n) JOIN pg_catalog.pg_attribute a ON a.attrelid = k.indrelid AND "
         "a.attnum = u.attnum WHERE u.n <= k.indnkeyatts UNION ALL SELECT 'w', '', 0 FROM "
         "pg_catalog.pg_class r WHERE r.oid = c.oid AND r.relkind IN ('r', 'p') AND NOT "
         "r.relrowsecurity AND NOT r.relhasrules AND pg_catalog.has_table_privilege(c.oid, "
         "'SELECT')) x ON true ORDER BY x.kind, x.n";
}

}  // namespace

asio::awaitable<EffectPlanner::Decision> EffectPlanner::decide(std::string_view sql,
                                                               const router::Classification& unit,
                                                               bool allow, bool witness) {
  // A failed transaction refuses cutover's question too: old answers the write with its error.
  if (source_.transaction_status() == 'E') co_return Decision{};
  if (!unit.changes_rows) {
    if (!unit.inserts || !witness) co_return Decision{};
    std::optional<Plan> inserting = co_await witnessed_insert(sql, unit.fingerprint);
    co_return Decision{.plan = std::move(inserting)};
  }
  Verdict verdict = co_await judge(sql, unit.fingerprint, false, witness);
  if (verdict.problem.empty()) co_return Decision{.plan = std::move(verdict.plan)};
  if (allow) co_return Decision{.unsafe = std::move(verdict.problem)};
  co_return Decision{.refusal = router::data_dependent_refusal(verdict.problem)};
}

asio::awaitable<EffectPlanner::Verdict> EffectPlanner::judge(std::string_view sql,
                                                             uint64_t fingerprint, bool prepared,
                                                             bool witness) {
  forget_if_stale();
  if (plain_.contains(fingerprint)) co_return Verdict{};
  if (witness) {
    std::optional<Verdict> known = witnessed_again(sql, fingerprint);
    if (known) co_return std::move(*known);
  }
  std::optional<router::RowWrite> write = row_write(sql);
  if (!write) co_return Verdict{};
  std::optional<Table> table = co_await table_of(write->relation);
  if (!table) co_return Verdict{};  // unknown to old: the write gets old's own error
  co_return verdict(sql, fingerprint, prepared, witness, std::move(*write), *table);
}

asio::awaitable<EffectPlanner::Verdict> EffectPlanner::judge_statement(std::string_view sql,
                                                                       uint64_t fingerprint,
                                                                       bool witness) {
  Verdict verdict = co_await judge(sql, fingerprint, true, witness);
  if (verdict.plan || !verdict.problem.empty() || !witness) co_return verdict;
  std::optional<Plan> inserting = co_await witnessed_insert(sql, fingerprint);
  co_return Verdict{.plan = std::move(inserting)};
}

std::optional<EffectPlanner::Verdict> EffectPlanner::judge_known(std::string_view sql,
                                                                 uint64_t fingerprint,
                                                                 bool witness) {
  forget_if_stale();
  if (plain_.contains(fingerprint)) return Verdict{};
  std::optional<router::RowWrite> write = row_write(sql);
  if (!write) return Verdict{};
  auto table = tables_.find(write->relation);
  if (table == tables_.end()) return std::nullopt;
  return verdict(sql, fingerprint, true, witness, std::move(*write), table->second);
}

// An INSERT into a table with a key whose rows can be witnessed: both sides run it returning
// a witness of each row; nullopt for any other (run as it is).
asio::awaitable<std::optional<EffectPlanner::Plan>> EffectPlanner::witnessed_insert(
    std::string_view sql, uint64_t fingerprint) {
  forget_if_stale();
  if (plain_.contains(fingerprint)) co_return std::nullopt;
  std::optional<Verdict> known = witnessed_again(sql, fingerprint);
  if (known) co_return std::move(known->plan);
  std::optional<router::RowWrite> write = router::find_insert(sql);
  if (!write) co_return std::nullopt;
  const std::optional<Table> table = co_await table_of(write->relation);
  if (!table) co_return std::nullopt;  // unknown to old: the write gets old's own error
  if (table->key.empty() || !table->witnessed) {
    remember(plain_, fingerprint);
    co_return std::nullopt;
  }
  remember(witnessed_, fingerprint, *write);
  Plan plan{.write = std::move(*write), .key = table->key, .witnessed = true, .on_keys = false};
  plan.for_old = router::returning_effect(sql, plan.write, plan.key, true);
  co_return plan;
}

// A keyed write's shape seen before: only the clauses' places in this text are found again
// (by tokens), not the whole parse tree (every tpcb-like UPDATE would parse once more).
std::optional<EffectPlanner::Verdict> EffectPlanner::witnessed_again(std::string_view sql,
                                                                     uint64_t fingerprint) {
  const auto shape = witnessed_.find(fingerprint);
  if (shape == witnessed_.end()) return std::nullopt;
  const auto table = tables_.find(shape->second.relation);
  if (table == tables_.end()) return std::nullopt;
  Plan plan{.write = shape->second, .key = table->second.key, .witnessed = true, .on_keys = false};
  router::locate_clauses(sql, plan.write);
  plan.for_old = router::returning_effect(sql, plan.write, plan.key, true);
  return Verdict{.plan = std::move(plan)};
}

// The UPDATE or DELETE `sql` is; nullopt when it is mirrored as a statement whatever its
// table's key (not such a write, several statements, WHERE CURRENT OF a cursor whose query ran
// on both).
std::optional<router::RowWrite> EffectPlanner::row_write(std::string_view sql) {
  std::optional<router::RowWrite> write = router::find_row_write(sql);
  if (!write || write->current_of) return std::nullopt;
  return write;
}

EffectPlanner::Verdict EffectPlanner::verdict(std::string_view sql, uint64_t fingerprint,
                                              bool prepared, bool witness, router::RowWrite write,
                                              const Table& table) {
  const std::vector<std::string>& key = table.key;
  if (!write.reads_other_rows && router::names_rows_by_key(write, key)) {
    if (witness && table.witnessed) {  // both run it, each returning its witness
      remember(witnessed_, fingerprint, write);
      Plan plan{.write = std::move(write), .key = key, .witnessed = true, .on_keys = false};
      plan.for_old = router::returning_effect(sql, plan.write, plan.key, true);
      return Verdict{.plan = std::move(plan)};
    }
    remember(plain_, fingerprint);
    return Verdict{};
  }
  if (write.reads_other_rows) {
    return Verdict{.problem =
                       "it takes values from other rows (a subquery in SET, FROM, WITH, "
                       "or USING with RETURNING)"};
  }
  if (key.empty()) {
    return Verdict{.problem = write.relation +
                              " has no primary key (nor a unique key of NOT NULL columns) to "
                              "name its rows by"};
  }
  // RETURNING gives the rows' keys after the update: new would look for rows by keys they
  // do not have yet.
  if (std::any_of(key.begin(), key.end(), [&](const std::string& column) {
        return std::find(write.set_columns.begin(), write.set_columns.end(), column) !=
               write.set_columns.end();
      })) {
    return Verdict{.problem = "it sets its rows' key columns"};
  }
  if (prepared && write.uses_other_tables) {
    return Verdict{.problem = "a prepared DELETE ... USING chooses its rows by other tables"};
  }
  Plan plan{.write = std::move(write), .key = key};
  plan.witnessed = witness && table.witnessed;
  plan.for_old = router::returning_effect(sql, plan.write, plan.key, plan.witnessed);
  return Verdict{.plan = std::move(plan)};
}

std::optional<EffectPlanner::Texts> EffectPlanner::for_new(
    std::string_view sql, const Plan& plan, const std::vector<std::string>& data_rows) const {
  std::optional<std::string> keys = keys_array(data_rows, 0, data_rows.size());
  if (!keys) return std::nullopt;
  return Texts{.for_new = router::on_keys(sql, plan.write, plan.key, *keys, plan.witnessed),
               .for_journal = router::on_keys(sql, plan.write, plan.key, *keys)};
}

std::optional<std::string> EffectPlanner::keys_array(const std::vector<std::string>& data_rows,
                                                     size_t first, size_t count) {
  if (first + count > data_rows.size()) return std::nullopt;
  std::string array = "[";
  for (size_t i = first; i < first + count; ++i) {
    std::optional<protocol::DataRow> row = decode_row(data_rows[i]);
    if (!row || row->columns.size() != 1 || !row->columns[0]) return std::nullopt;
    const std::optional<std::string> key = verify::witness_key(*row->columns[0]);
    if (!key) return std::nullopt;
    array.append(i > first ? "," : "").append(*key);
  }
  return array.append("]");
}

asio::awaitable<std::optional<EffectPlanner::Table>> EffectPlanner::table_of(
    const std::string& relation) {
  if (auto it = tables_.find(relation); it != tables_.end()) co_return it->second;
  const std::optional<HeldAnswer> answer =
      co_await source_.query_own(table_query(router::quote_literal(relation)));
  if (!answer || !answer->sqlstate.empty() || answer->data_rows.empty()) co_return std::nullopt;
  Table table;
  for (const std::string& body : answer->data_rows) {
    std::optional<protocol::DataRow> row = decode_row(body);
    if (!row || row->columns.size() != 3 || row->columns[0] != "t") co_return std::nullopt;
    if (row->columns[1] == "w") table.witnessed = true;
    if (row->columns[1] == "k" && row->columns[2]) table.key.push_back(std::move(*row->columns[2]));
  }
  constexpr size_t kMaxTables = 256;
  if (tables_.size() >= kMaxTables) tables_.clear();
  tables_.emplace(relation, table);
  co_return table;
}

void EffectPlanner::forget_if_stale() {
  if (const uint64_t version = schema_version_.load(); version != version_) {
    forget();
    version_ = version;
  }
}

void EffectPlanner::forget() {
  tables_.clear();
  plain_.clear();
  witnessed_.clear();
}

}  // namespace cutover::proxy
