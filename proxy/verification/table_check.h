// One table compared between old and new, inside one repeatable-read snapshot on each side:
// keyed tables range by range in primary-key order (a range's row count and hash sum computed
// inside each database, verify/key_range.h), a differing range bisected down to rows, and each
// differing row named by key with the columns that differ; a table without a primary key as
// one digest of all its rows. Blocking libpq work (pg_session.h).
// Not which tables are compared or what is done with the verdict (verify_command.h).
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "proxy/verification/pg_session.h"
#include "proxy/verification/table_catalog.h"
#include "verify/key_range.h"
#include "verify/verify_report.h"

namespace cutover::proxy {

// Begins a REPEATABLE READ transaction on each side with its snapshot taken (the caller ends
// both): at once when nothing writes through cutover, or as a pair at one point of the write
// order (verification_pass.h).
using OpenSnapshots =
    std::function<boost::system::result<void, PgError>(PgSession& old_db, PgSession& new_db)>;

struct CheckSettings {
  uint64_t range_rows = 10000;  // the first range's rows, and the most a range holds
  double range_ms = 500;        // how long hashing one range should take
  uint64_t leaf_rows = 256;     // a differing range this small is compared row by row
  double max_load = 1.0;        // the share of time spent querying; pauses fill the rest
  bool row_level = false;       // compare every range row by row, not by its digest
  // Set when the pass must end (cutover stops): looked at before each range.
  const std::atomic<bool>* stop = nullptr;
};

class TableCheck {
 public:
  // `on_old` and `on_new` describe the same qualified table on each side.
  TableCheck(PgSession& old_db, PgSession& new_db, const TableShape& on_old,
             const TableShape& on_new, const CheckSettings& settings);
  // What was found, read in the snapshots `open_snapshots` opens (and run() rolls back); a
  // database error ends the table's check as problem "unreadable".
  verify::TableVerdict run(const OpenSnapshots& open_snapshots);

 private:
  using Done = boost::system::result<void, PgError>;
  Done walk_ranges();
  Done compare_whole();
  Done check_range(const verify::KeyRange& range);
  Done bisect(const verify::KeyRange& range, const verify::RangeDigest& on_old,
              const verify::RangeDigest& on_new);
  Done compare_rows(const verify::KeyRange& range);
  Done note_different(const verify::KeyValue& key);
  struct Digests {
    verify::RangeDigest on_old;
    verify::RangeDigest on_new;
  };
  // `range`'s digest on both sides, computed at the same time.
  boost::system::result<Digests, PgError> digests(const verify::KeyRange& range);
  // The key `offset` rows past the start of `range` on `db`; nullopt when the range is shorter.
  boost::system::result<std::optional<verify::KeyValue>, PgError> key_at(
      PgSession& db, const verify::KeyRange& range, uint64_t offset);
  void add(verify::RowDifference difference);
  std::string hash_sql(const PgSession& db) const;
  std::string canonical_key_sql(const PgSession& db) const;  // each key column's canonical text

  PgSession& old_db_;
  PgSession& new_db_;
  const CheckSettings settings_;
  std::string from_;                         // the quoted qualified name
  std::vector<verify::Column> old_columns_;  // the columns both sides have, old's types
  std::vector<verify::Column> new_columns_;  // the same columns, new's types
  std::vector<verify::KeyColumn> key_;       // empty: compared whole
  verify::TableVerdict verdict_;
};

}  // namespace cutover::proxy
