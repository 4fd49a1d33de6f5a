// The tables background verification compares, as each database's catalog describes them:
// every ordinary table (partitions included, partitioned parents not, since their rows are the
// partitions') outside the system schemas, its columns with their base types, and its primary
// key. Not what is done with them (table_check.h).
#pragma once

#include <map>
#include <string>
#include <vector>

#include "proxy/verification/pg_session.h"
#include "verify/canonical_row.h"
#include "verify/key_range.h"

namespace cutover::proxy {

struct TableShape {
  std::string schema;
  std::string name;
  std::vector<verify::Column> columns{};  // in the table's column order
  // The primary key's columns in the key's order (empty: none), each with its effective
  // collation in KeyColumn::collation ("" for a type without one).
  std::vector<verify::KeyColumn> key{};
  std::string qualified() const { return schema + "." + name; }
};

// By qualified name ("schema.name").
boost::system::result<std::map<std::string, TableShape>, PgError> read_tables(PgSession& db);

}  // namespace cutover::proxy
