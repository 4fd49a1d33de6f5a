#include "proxy/verification/table_catalog.h"

namespace cutover::proxy {
namespace {

// One row per column: schema, table, column, base type's name, the type as format_type()
// prints it without its modifier (a key read from the other side, numeric(10,3) where this
// one is numeric(10,0), must not be rounded into another key by the cast back), its place in the
// primary key (0: not in it) and its effective collation. A domain's base is one level down (a
// domain over a domain keeps the inner domain's name, and is hashed as its text).
constexpr const char* kColumns = R"(
SELECT n.nspname, c.relname, a.attname, bt.typname, format_type(a.atttypid, NULL),
       coalesce((SELECT k.place FROM unnest(i.indkey::int2[]) WITH ORDINALITY AS k(attnum, place)
                 WHERE k.attnum = a.attnum), 0),
       CASE WHEN a.attcollation = 0 THEN ''
            WHEN a.attcollation = 100 THEN (SELECT datcollate FROM pg_database
                                            WHERE datname = current_database())
            ELSE co.collname END
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
JOIN pg_type t ON t.oid = a.atttypid
JOIN pg_type bt ON bt.oid = CASE WHEN t.typtype = 'd' THEN t.typbasetype ELSE t.oid END
LEFT JOIN pg_index i ON i.indrelid = c.oid AND i.indisprimary
LEFT JOIN pg_collation co ON co.oid = a.attcollation
WHERE c.relkind = 'r' AND n.nspname NOT IN ('pg_catalog', 'information_schema')
  AND n.nspname NOT LIKE 'pg\_toast%' AND n.nspname NOT LIKE 'pg\_temp%'
ORDER BY 1, 2, a.attnum)";

}  // namespace

boost::system::result<std::map<std::string, TableShape>, PgError> read_tables(PgSession& db) {
  auto rows = db.query(kColumns);
  if (!rows) return rows.error();
  std::map<std::string, TableShape> tables;
  std::map<std::string, std::map<int, verify::KeyColumn>> keys;  // by place in the key
  for (const PgRow& row : *rows) {
    if (row.size() != 7) return PgError{"XX000", db.name() + ": unexpected catalog row"};
    auto text = [&](size_t i) { return row[i].value_or(""); };
    const std::string qualified = text(0) + "." + text(1);
    TableShape& table = tables[qualified];
    table.schema = text(0);
    table.name = text(1);
    table.columns.push_back({.name = text(2), .base_type = text(3)});
    if (const int place = std::stoi(text(5)); place > 0) {
      keys[qualified][place] = {.name = text(2), .type = text(4), .collation = text(6)};
    }
  }
  for (auto& [qualified, key] : keys) {
    for (auto& [place, column] : key) tables[qualified].key.push_back(std::move(column));
  }
  return tables;
}

}  // namespace cutover::proxy
