#include "verify/verify_report.h"

#include <boost/json.hpp>
#include <cstdio>

namespace cutover::verify {

namespace json = boost::json;

std::vector<std::string> difference_lines(const TableVerdict& verdict) {
  std::vector<std::string> lines;
  for (const RowDifference& row : verdict.rows) {
    json::object line{
        {"table", verdict.table}, {"kind", difference_name(row.kind)}, {"key", row.key}};
    if (row.kind == RowDifference::Kind::kDifferent) {
      json::array columns;
      for (const std::string& column : row.columns) columns.emplace_back(column);
      line["columns"] = std::move(columns);
    }
    lines.push_back(json::serialize(line));
  }
  if (!verdict.problem.empty()) {
    lines.push_back(json::serialize(json::object{
        {"table", verdict.table}, {"kind", verdict.problem}, {"detail", verdict.detail}}));
  }
  return lines;
}

std::string summary_line(const std::vector<TableVerdict>& verdicts, double seconds) {
  uint64_t rows_old = 0;
  uint64_t rows_new = 0;
  uint64_t differing = 0;
  size_t equal = 0;
  std::string differing_tables;
  for (const TableVerdict& v : verdicts) {
    rows_old += v.rows_old;
    rows_new += v.rows_new;
    differing += v.differing_rows;
    if (v.equal()) {
      ++equal;
    } else {
      differing_tables += (differing_tables.empty() ? "" : ",") + v.table;
    }
  }
  char took[32];
  std::snprintf(took, sizeof took, "%.3f", seconds);
  std::string line = "tables=" + std::to_string(verdicts.size()) +
                     " equal=" + std::to_string(equal) + " rows_old=" + std::to_string(rows_old) +
                     " rows_new=" + std::to_string(rows_new) +
                     " differing_rows=" + std::to_string(differing) + " seconds=" + took;
  if (!differing_tables.empty()) line += " differing_tables=" + differing_tables;
  return line;
}

}  // namespace cutover::verify
