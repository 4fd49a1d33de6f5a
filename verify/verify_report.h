// What a verification pass found, table by table, and how it is written down: one JSON line per
// difference (what `cutover verify --once` prints on stdout) and a summary for the operator.
// Not how the differences are found (proxy/verification/).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "verify/row_effects.h"

namespace cutover::verify {

struct TableVerdict {
  std::string table;  // schema.name, as the catalog spells it
  bool keyed = true;  // false: compared whole, its rows cannot be named
  uint64_t rows_old = 0;
  uint64_t rows_new = 0;
  uint64_t ranges = 0;                // ranges hashed on each side, bisection included
  std::vector<RowDifference> rows{};  // the differing rows, at most kReportedRowsPerTable
  uint64_t differing_rows = 0;        // every differing row found (more than `rows` holds)
  // What kept the table from being compared row by row: "table_missing_on_new",
  // "table_only_on_new", "columns_differ", "rows_differ" (no key to name them) or
  // "unreadable"; empty when none.
  std::string problem{};
  std::string detail{};  // the problem's particulars
  bool equal() const { return problem.empty() && differing_rows == 0; }
};

constexpr size_t kReportedRowsPerTable = 1000;

// {"table":…,"kind":"different","key":"(id)=(7)","columns":["v"]} for each differing row, then
// {"table":…,"kind":<problem>,"detail":…} for a table's problem; one line each, no newline.
std::vector<std::string> difference_lines(const TableVerdict& verdict);
// "tables=12 equal=11 rows_old=… rows_new=… differing_rows=2 seconds=1.3" with the differing
// tables' names.
std::string summary_line(const std::vector<TableVerdict>& verdicts, double seconds);

}  // namespace cutover::verify
