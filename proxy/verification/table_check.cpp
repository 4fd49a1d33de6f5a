#include "proxy/verification/table_check.h"

#include <chrono>
#include <map>
#include <thread>

namespace cutover::proxy {
namespace {

using verify::KeyRange;
using verify::KeyValue;
using verify::RangeDigest;
using verify::RowDifference;

std::string names_of(const std::vector<std::string>& names) {
  std::string joined;
  for (const std::string& name : names) joined += (joined.empty() ? "" : ", ") + name;
  return joined;
}

// The `columns` columns of `row` from `first` on: a key read with key_text_sql() (first 0).
KeyValue key_of(const PgRow& row, size_t first, size_t columns) {
  KeyValue key;
  for (size_t i = first; i < first + columns && i < row.size(); ++i) {
    key.push_back(row[i].value_or(""));
  }
  return key;
}

}  // namespace

TableCheck::TableCheck(PgSession& old_db, PgSession& new_db, const TableShape& on_old,
                       const TableShape& on_new, const CheckSettings& settings)
    : old_db_(old_db),
      new_db_(new_db),
      settings_(settings),
      from_(verify::quote_identifier(on_old.schema) + "." + verify::quote_identifier(on_old.name)) {
  verdict_.table = on_old.qualified();
  std::vector<std::string> only_old;
  for (const verify::Column& column : on_old.columns) {
    auto same = std::find_if(on_new.columns.begin(), on_new.columns.end(),
                             [&](const verify::Column& c) { return c.name == column.name; });
    if (same == on_new.columns.end()) {
      only_old.push_back(column.name);
      continue;
    }
    old_columns_.push_back(column);
    new_columns_.push_back(*same);
  }
  std::vector<std::string> only_new;
  for (const verify::Column& column : on_new.columns) {
    auto same = std::find_if(on_old.columns.begin(), on_old.columns.end(),
                             [&](const verify::Column& c) { return c.name == column.name; });
    if (same == on_old.columns.end()) only_new.push_back(column.name);
  }
  if (!only_old.empty() || !only_new.empty()) {
    verdict_.problem = "columns_differ";
    verdict_.detail = "only on old: [" + names_of(only_old) + "], only on new: [" +
                      names_of(only_new) + "]; the other columns are compared";
  }
  const bool same_key = on_old.key.size() == on_new.key.size() &&
                        std::equal(on_old.key.begin(), on_old.key.end(), on_new.key.begin(),
                                   [](const auto& a, const auto& b) { return a.name == b.name; });
  if (!same_key) return;
  for (size_t i = 0; i < on_old.key.size(); ++i) {
    verify::KeyColumn column = on_old.key[i];
    column.collation = column.collation == on_new.key[i].collation ? "" : "C";
    key_.push_back(std::move(column));
  }
}

verify::TableVerdict TableCheck::run(const OpenSnapshots& open_snapshots) {
  verdict_.keyed = !key_.empty();
  // One snapshot per side for the whole table: a range and its bisection see the same rows.
  Done done = open_snapshots(old_db_, new_db_);
  if (done) done = verdict_.keyed ? walk_ranges() : compare_whole();
  old_db_.query("ROLLBACK");
  new_db_.query("ROLLBACK");
  if (!done) {
    verdict_.problem = "unreadable";
    verdict_.detail = done.error().text();
  }
  return std::move(verdict_);
}

std::string TableCheck::hash_sql(const PgSession& db) const {
  return verify::row_hash_sql(&db == &old_db_ ? old_columns_ : new_columns_);
}

std::string TableCheck::canonical_key_sql(const PgSession& db) const {
  const std::vector<verify::Column>& columns = &db == &old_db_ ? old_columns_ : new_columns_;
  std::string sql;
  for (const verify::KeyColumn& key : key_) {
    const auto column = std::find_if(columns.begin(), columns.end(),
                                     [&](const verify::Column& c) { return c.name == key.name; });
    sql += (sql.empty() ? "" : ", ");
    sql += column != columns.end() ? verify::canonical_column_sql(*column)
                                   : verify::quote_identifier(key.name) + "::text";
  }
  return sql;
}

TableCheck::Done TableCheck::walk_ranges() {
  uint64_t rows = settings_.range_rows;
  KeyRange range;
  for (;;) {
    if (settings_.stop != nullptr && settings_.stop->load()) {
      return PgError{"57014", "verification stopped: cutover is shutting down"};
    }
    auto through = key_at(old_db_, {.after = range.after, .through = std::nullopt}, rows - 1);
    if (!through) return through.error();
    range.through = *through;
    const auto started = std::chrono::steady_clock::now();
    if (Done checked = check_range(range); !checked) return checked;
    const std::chrono::duration<double, std::milli> took =
        std::chrono::steady_clock::now() - started;
    if (!range.through) return {};
    range.after = std::move(range.through);
    rows =
        verify::next_range_rows(rows, took.count(), settings_.range_ms, 100, settings_.range_rows);
    // Throttle: the databases serve their clients first. A pause, not a wait for an event.
    if (settings_.max_load < 1.0 && settings_.max_load > 0) {
      std::this_thread::sleep_for(took * (1 / settings_.max_load - 1));
    }
  }
}

TableCheck::Done TableCheck::check_range(const KeyRange& range) {
  ++verdict_.ranges;
  if (settings_.row_level) return compare_rows(range);
  auto both = digests(range);
  if (!both) return both.error();
  verdict_.rows_old += both->on_old.rows;
  verdict_.rows_new += both->on_new.rows;
  if (both->on_old == both->on_new) return {};
  return bisect(range, both->on_old, both->on_new);
}

// Halves a differing range at the middle key of the side holding more of its rows until the
// halves are small enough to compare row by row; equal halves are left alone.
TableCheck::Done TableCheck::bisect(const KeyRange& range, const RangeDigest& on_old,
                                    const RangeDigest& on_new) {
  const uint64_t most = std::max(on_old.rows, on_new.rows);
  if (most <= settings_.leaf_rows) return compare_rows(range);
  PgSession& larger = on_old.rows >= on_new.rows ? old_db_ : new_db_;
  auto middle = key_at(larger, range, most / 2 - 1);
  if (!middle) return middle.error();
  // Halving must shrink the range; should a key read on one side not split it on the other
  // (the types differ), its rows are compared one by one instead of recursing for ever.
  if (!*middle || *middle == range.after || *middle == range.through) return compare_rows(range);
  for (const KeyRange& half : {KeyRange{range.after, *middle}, KeyRange{*middle, range.through}}) {
    ++verdict_.ranges;
    auto both = digests(half);
    if (!both) return both.error();
    if (both->on_old == both->on_new) continue;
    if (Done done = bisect(half, both->on_old, both->on_new); !done) return done;
  }
  return {};
}

// Every row of `range` by key and hash on both sides, matched by the key's canonical text (an
// integer key on old is a bigint on new, numeric(10,1) is numeric(10,3): 1.5 is 1.500);
// reported by each side's own text of the key, in key order.
TableCheck::Done TableCheck::compare_rows(const KeyRange& range) {
  for (PgSession* db : {&old_db_, &new_db_}) {
    db->send("SELECT " + verify::key_text_sql(key_) + ", " + canonical_key_sql(*db) + ", " +
             hash_sql(*db) + " FROM " + from_ + " WHERE " + verify::range_predicate(key_, range) +
             " ORDER BY " + verify::key_order_sql(key_));
  }
  auto old_rows = old_db_.receive();
  auto new_rows = new_db_.receive();
  if (!old_rows || !new_rows) return old_rows ? new_rows.error() : old_rows.error();
  if (settings_.row_level) {
    verdict_.rows_old += old_rows->size();
    verdict_.rows_new += new_rows->size();
  }
  struct Seen {
    KeyValue key;  // as new writes it
    std::string hash;
  };
  const size_t n = key_.size();
  std::map<KeyValue, Seen> on_new;  // by canonical key
  for (const PgRow& row : *new_rows) {
    on_new[key_of(row, n, n)] = {key_of(row, 0, n), row.back().value_or("")};
  }
  for (const PgRow& row : *old_rows) {
    const KeyValue key = key_of(row, 0, n);
    const auto found = on_new.find(key_of(row, n, n));
    if (found == on_new.end()) {
      add({.kind = RowDifference::Kind::kMissingOnNew, .key = verify::describe_key(key_, key)});
      continue;
    }
    const bool same = found->second.hash == row.back().value_or("");
    on_new.erase(found);
    if (same) continue;
    if (Done noted = note_different(key); !noted) return noted;
  }
  for (const auto& [canonical, seen] : on_new) {
    add({.kind = RowDifference::Kind::kOnlyOnNew, .key = verify::describe_key(key_, seen.key)});
  }
  return {};
}

// A row both sides hold with other values: which columns differ, from each column's canonical
// text read on both sides (only for rows that will be reported).
TableCheck::Done TableCheck::note_different(const KeyValue& key) {
  RowDifference difference{.kind = RowDifference::Kind::kDifferent,
                           .key = verify::describe_key(key_, key)};
  if (verdict_.rows.size() >= verify::kReportedRowsPerTable) {
    add(std::move(difference));
    return {};
  }
  auto texts_of = [&](PgSession& db, const std::vector<verify::Column>& columns) {
    std::string select;
    for (const verify::Column& column : columns) {
      select += (select.empty() ? "" : ", ") + verify::canonical_column_sql(column);
    }
    db.send("SELECT " + select + " FROM " + from_ + " WHERE " +
            verify::key_equals_predicate(key_, key));
  };
  texts_of(old_db_, old_columns_);
  texts_of(new_db_, new_columns_);
  auto on_old = old_db_.receive();
  auto on_new = new_db_.receive();
  if (!on_old || !on_new) return on_old ? on_new.error() : on_old.error();
  if (on_old->size() == 1 && on_new->size() == 1) {
    for (size_t i = 0; i < old_columns_.size(); ++i) {
      if (on_old->front()[i] != on_new->front()[i]) {
        difference.columns.push_back(old_columns_[i].name);
      }
    }
  }
  add(std::move(difference));
  return {};
}

boost::system::result<TableCheck::Digests, PgError> TableCheck::digests(const KeyRange& range) {
  const std::string where = key_.empty() ? "true" : verify::range_predicate(key_, range);
  for (PgSession* db : {&old_db_, &new_db_}) {
    db->send("SELECT count(*), coalesce(sum(" + hash_sql(*db) + "), 0) FROM " + from_ + " WHERE " +
             where);
  }
  auto on_old = old_db_.receive();
  auto on_new = new_db_.receive();  // read even after old's error: the connection stays usable
  if (!on_old || !on_new) return on_old ? on_new.error() : on_old.error();
  for (const auto* rows : {&*on_old, &*on_new}) {
    if (rows->size() != 1 || rows->front().size() != 2) {
      return PgError{"XX000", "no digest for " + from_};
    }
  }
  auto digest_of = [](const std::vector<PgRow>& rows) {
    return RangeDigest{.rows = std::stoull(rows.front()[0].value_or("0")),
                       .sum = rows.front()[1].value_or("0")};
  };
  return Digests{digest_of(*on_old), digest_of(*on_new)};
}

boost::system::result<std::optional<KeyValue>, PgError> TableCheck::key_at(PgSession& db,
                                                                           const KeyRange& range,
                                                                           uint64_t offset) {
  auto rows = db.query("SELECT " + verify::key_text_sql(key_) + " FROM " + from_ + " WHERE " +
                       verify::range_predicate(key_, range) + " ORDER BY " +
                       verify::key_order_sql(key_) + " LIMIT 1 OFFSET " + std::to_string(offset));
  if (!rows) return rows.error();
  if (rows->empty()) return std::optional<KeyValue>();
  return std::optional<KeyValue>(key_of(rows->front(), 0, key_.size()));
}

// A table without a primary key (or whose keys differ): one digest of all its rows on each
// side. A difference cannot be narrowed to rows, since nothing names them.
TableCheck::Done TableCheck::compare_whole() {
  ++verdict_.ranges;
  auto both = digests({});
  if (!both) return both.error();
  verdict_.rows_old = both->on_old.rows;
  verdict_.rows_new = both->on_new.rows;
  if (both->on_old == both->on_new) return {};
  const std::string detail = "old has " + std::to_string(both->on_old.rows) + " rows, new " +
                             std::to_string(both->on_new.rows) +
                             ", and their hashes differ; without the same primary key on both "
                             "sides the rows cannot be named";
  verdict_.detail = verdict_.problem.empty() ? detail : verdict_.detail + "; " + detail;
  verdict_.problem = "rows_differ";
  return {};
}

void TableCheck::add(RowDifference difference) {
  ++verdict_.differing_rows;
  if (verdict_.rows.size() < verify::kReportedRowsPerTable) {
    verdict_.rows.push_back(std::move(difference));
  }
}

}  // namespace cutover::proxy
