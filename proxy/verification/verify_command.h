// `cutover verify --once`: old and new compared table by table (table_check.h), one JSON line
// per difference on stdout and a summary on stderr. When no cutover is running (the journal's
// directory is free) nothing writes through cutover, so what it finds is consistent, and it
// settles the open divergences (proxy/migration/divergence_ledger.h): a differing table opens
// one, a table found equal closes its own, and a pass over every table that finds all equal
// closes every one — unless the journal still owes new records. With a cutover running, the
// running one owns the divergences and the result is only reported: a write in flight between
// the two databases can show as a difference (docs/verification.md).
#pragma once

#include <ostream>
#include <string>
#include <vector>

#include "proxy/base/config.h"

namespace cutover::proxy {

struct VerifyOptions {
  std::vector<std::string> tables{};  // "schema.name" or "name"; empty: verify.tables, or all
  bool row_level = false;             // every row's hash compared, not only range digests
  std::string user{};                 // for a backend whose configured user is empty
  std::string database{};             // likewise
};

// True when every table compared is equal (and could be read).
bool verify_once(const Config& config, const VerifyOptions& options, std::ostream& out,
                 std::ostream& err);

}  // namespace cutover::proxy
