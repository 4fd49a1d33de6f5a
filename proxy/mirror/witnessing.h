// Which answers of a mirrored unit carry witnesses (verify/row_effects.h), and how: a Query's
// one statement, or each Execute of an extended batch, in order. Old's are taken out of the
// client's stream by the reply filter; new's are split off its rows by the mirror. The
// comparator gets the witnesses of one table per unit, the first witnessed one's: a batch
// writing several tables has its other tables' witnesses taken out too, and those writes are
// compared by their answers alone (verify::WritePair::effect_table names one table).
// Not how a statement comes to return witnesses (effect_planner.h, pinner.h).
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "proxy/link/reply_filter.h"

namespace cutover::proxy {

struct Witnessing {
  struct Execute {
    // How its rows hold a witness: kRows, each row is one; kLastColumn, after the client's
    // columns; kNothing, none.
    ReplyFilter::Taken at = ReplyFilter::Taken::kNothing;
    bool compared = false;  // of `table`
  };
  std::string table{};  // whose witnesses are compared; empty when there are none
  std::vector<Execute> executes{};

  bool any() const { return !table.empty(); }
  // The `execute`th Execute's rows hold witnesses of `of_table`, as `at` says.
  void add(size_t execute, ReplyFilter::Taken at, const std::string& of_table) {
    if (table.empty()) table = of_table;
    if (executes.size() <= execute) executes.resize(execute + 1);
    executes[execute] = {at, of_table == table};
  }
  Execute of(size_t execute) const {
    return execute < executes.size() ? executes[execute] : Execute{};
  }
};

}  // namespace cutover::proxy
