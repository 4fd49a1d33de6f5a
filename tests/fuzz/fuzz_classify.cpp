// libFuzzer target: SQL classification of arbitrary client text. The literal normaliser and
// the libpg_query-based classifier never crash or hang; normalising is idempotent (a key never
// normalises further, so two texts cannot meet on a second pass); and the cache gives the same
// kind as a direct parse for the text it was asked about. Pinning the time functions of a text
// that parses gives a text that still parses, of the same kind; so does filling the defaults
// of its INSERTs (router/insert_defaults.h) against a table whose every column differs. The
// rows a write names (router/row_keys.h) give at most one key text per row, naming its table.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "router/classify.h"
#include "router/insert_defaults.h"
#include "router/normalize.h"
#include "router/pinning.h"
#include "router/row_keys.h"

namespace {

void check(bool ok) {
  if (!ok) __builtin_trap();
}

// Every INSERT's differing defaults filled with a constant, as cutover would with old's values.
std::string fill_every_default(const std::string& sql,
                               const std::vector<cutover::router::InsertShape>& shapes) {
  using namespace cutover::router;
  static const std::vector<TableColumn> table = {
      {.name = "id", .type = "integer", .default_expression = "nextval('s')", .identity = 'a'},
      {.name = "v", .type = "text", .default_expression = "now()"},
      {.name = "w", .type = "uuid", .default_expression = "gen_random_uuid()"}};
  const std::vector<DefaultKind> kinds(table.size(), DefaultKind{.differs = true});
  std::vector<const std::vector<TableColumn>*> tables;
  std::vector<FilledSlot> filled;
  for (size_t i = 0; i < shapes.size(); ++i) {
    tables.push_back(&table);
    auto slots = default_slots(i, shapes[i], table, kinds);
    if (!slots) continue;
    for (const auto& slot : *slots) filled.push_back({slot, "CAST('1' AS integer)"});
  }
  return fill_defaults(sql, shapes, tables, filled);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > 4096) return 0;  // the parser is linear; longer inputs only slow the search
  std::string sql(reinterpret_cast<const char*>(data), size);
  if (sql.find('\0') != std::string::npos) return 0;  // a Query string cannot hold a NUL
  std::string key = cutover::router::normalize_literals(sql);
  check(cutover::router::normalize_literals(key) == key);
  static const cutover::router::Classifier classifier;
  cutover::router::ClassificationCache cache(classifier, 4);
  const cutover::router::Classification direct = classifier.classify(sql);
  check(cache.classify(sql).kind == direct.kind);
  auto found = cutover::router::find_nondeterminism(sql);
  if (found && !found->time_calls.empty()) {
    const std::string pinned =
        cutover::router::pin_time(sql, found->time_calls, "'2026-01-01 00:00:00.000000+00'", "$1");
    const cutover::router::Classification after = classifier.classify(pinned);
    check(after.error.empty() && after.kind == direct.kind);
  }
  if (auto shapes = cutover::router::find_inserts(sql); shapes && !shapes->empty()) {
    const cutover::router::Classification after =
        classifier.classify(fill_every_default(sql, *shapes));
    check(after.error.empty() && after.kind == direct.kind);
  }
  for (const auto& named : cutover::router::rows_named(sql, {"1", std::nullopt})) {
    const auto keys = cutover::router::key_texts(named, named.columns);
    check(keys.size() <= named.rows.size());
    for (const auto& key : keys) check(key.starts_with(named.table + "("));
  }
  return 0;
}
