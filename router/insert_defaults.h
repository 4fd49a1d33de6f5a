// Column defaults that give each server its own value (a serial or identity key from the
// server's own sequence, gen_random_uuid(), now() in a DEFAULT): an INSERT that leaves such a
// column to its default would store different values on old and new. This file finds, in
// PostgreSQL's parse tree, what each INSERT ... VALUES leaves to its target's defaults, and
// rewrites it to name every such value explicitly, so that both sides store the same row.
// Pure: the catalog facts (TableColumn) and the values evaluated on old come from the caller.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "router/pinning.h"

namespace cutover::router {

// One INSERT of a statement text.
struct InsertShape {
  std::string schema;    // as the parser resolved the spelling; empty when unqualified
  std::string relation;  // likewise
  // Whether its rows are VALUES lists or DEFAULT VALUES (else INSERT ... SELECT, whose row
  // count is known only when it runs: never rewritten).
  bool rewritable = false;
  std::vector<std::string> columns;  // the explicit column list; empty: the table's order
  char overriding = 0;               // 's' OVERRIDING SYSTEM VALUE, 'u' USER VALUE, 0 neither
  bool default_values = false;       // DEFAULT VALUES: one row, no items
  // Per VALUES row: the text offset of each DEFAULT item (npos for other items), and where
  // the row's closing parenthesis is.
  std::vector<std::vector<size_t>> default_items;
  std::vector<size_t> row_ends;
  size_t values_at = 0;    // the VALUES keyword (DEFAULT of DEFAULT VALUES)
  size_t values_end = 0;   // after VALUES (after DEFAULT VALUES)
  size_t columns_end = 0;  // the column list's closing parenthesis, when there is a list
};

// Every INSERT in `sql` (also those in a WITH clause), in text order; nullopt when the text
// does not parse or the tree and the text disagree.
std::optional<std::vector<InsertShape>> find_inserts(std::string_view sql);

// The target of a `COPY ... FROM STDIN` in `sql`: its relation and column list (empty: every
// column, so no default applies); nullopt when there is none or the text does not parse.
std::optional<InsertShape> copy_target(std::string_view sql);

// What the caller learnt of a target table's column from old's catalog (in column order,
// dropped columns left out).
struct TableColumn {
  std::string name{};
  std::string type{};                // format_type(): "integer", "timestamp(3) with time zone"
  std::string default_expression{};  // pg_get_expr(); nextval(...) for identity columns
  char identity = 0;                 // 'a' GENERATED ALWAYS / 'd' BY DEFAULT AS IDENTITY
  bool generated = false;            // GENERATED ALWAYS AS (...) STORED: never given a value
};

// Whether a default gives each server its own value: it calls a time function or one of the
// functions pinning.h knows to differ. `time_only`: only time functions, which the caller can
// pin without asking old. `time_calls`: where they stand in the expression, for pin_time()
// (found once, so pinning the default again costs no parse).
struct DefaultKind {
  bool differs = false;
  bool time_only = false;
  std::vector<TimeCall> time_calls{};
};
DefaultKind classify_default(std::string_view expression);

// A value an INSERT leaves to a default that differs, and where it goes.
struct DefaultSlot {
  size_t insert = 0;  // index into find_inserts()'s result
  size_t row = 0;
  size_t column = 0;  // index into the table's columns
  // The DEFAULT item it replaces, or npos when the column is missing from the INSERT (the
  // column and the value are then appended to the column list and the row).
  size_t item_at = std::string_view::npos;
};

// The slots of one INSERT, in row order (then column order); `kinds[i]` for the table's
// column i. nullopt when the INSERT cannot be rewritten but leaves such a value to a default
// (INSERT ... SELECT, OVERRIDING USER VALUE). None for an INSERT old refuses anyway (a column
// list naming unknown columns, more items than columns, a value given for a GENERATED ALWAYS
// identity column without OVERRIDING SYSTEM VALUE): it goes unchanged, to get old's error.
std::optional<std::vector<DefaultSlot>> default_slots(size_t insert, const InsertShape& shape,
                                                      const std::vector<TableColumn>& table,
                                                      const std::vector<DefaultKind>& kinds);

// `sql` with every slot given its value (SQL text: a literal or a pinned expression). Slots of
// all the text's INSERTs at once, each with the columns of its INSERT's table.
struct FilledSlot {
  DefaultSlot slot;
  std::string value;
};
// Each edit is noted in `rewrites`, when given (its current rewrite).
std::string fill_defaults(std::string_view sql, const std::vector<InsertShape>& shapes,
                          const std::vector<const std::vector<TableColumn>*>& tables,
                          const std::vector<FilledSlot>& filled, TextMap* rewrites = nullptr);

// SQL quoting for what cutover writes into statements (standard_conforming_strings on).
std::string quote_literal(std::string_view text);
std::string quote_identifier(std::string_view name);

}  // namespace cutover::router
