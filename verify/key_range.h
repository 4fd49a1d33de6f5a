// A table's rows cut into ranges by primary-key order, as SQL predicates, and a range's digest
// (row count and the sum of its rows' 64-bit hashes, verify/canonical_row.h) as both databases
// report it. A sum, not XOR: XOR cancels a row stored twice. Ranges are half-open on the left,
// (after, through], and either end may be open, so the first and last ranges also hold rows
// only one database has beyond the other's ends. Only SQL text and arithmetic; no I/O.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace cutover::verify {

struct KeyColumn {
  std::string name;
  std::string type;  // what a key's text is cast back to: format_type() without a modifier
  // A collation to order by instead of the column's own: "C" when old's and new's differ
  // (their orders could disagree, and a range would hold other rows on each side).
  std::string collation{};
};
using KeyValue = std::vector<std::string>;  // a key's columns as text, never NULL

struct KeyRange {
  std::optional<KeyValue> after;    // rows whose key is greater; open when none
  std::optional<KeyValue> through;  // and at most this; open when none
};

// "(a, b)", with each column's collation where one is set: what ORDER BY and comparisons use.
std::string key_tuple_sql(const std::vector<KeyColumn>& key);
// "a, b" (collations included): the ORDER BY list.
std::string key_order_sql(const std::vector<KeyColumn>& key);
// "a::text AS key_text_1, b::text AS key_text_2": the SELECT list that reads a key.
std::string key_text_sql(const std::vector<KeyColumn>& key);
// The WHERE condition of `range` ("true" when both ends are open).
std::string range_predicate(const std::vector<KeyColumn>& key, const KeyRange& range);
// The WHERE condition of the one row whose key is `value`.
std::string key_equals_predicate(const std::vector<KeyColumn>& key, const KeyValue& value);
// The way PostgreSQL names a row in its messages: "(id, region)=(7, eu)".
std::string describe_key(const std::vector<KeyColumn>& key, const KeyValue& value);

struct RangeDigest {
  uint64_t rows = 0;
  std::string sum = "0";  // the sum of the rows' hashes, a numeric as PostgreSQL printed it
  friend bool operator==(const RangeDigest&, const RangeDigest&) = default;
};

// How many rows the next range should hold so that hashing it takes about `target_ms`: the
// last range's rows scaled by how long it took, at most doubled or halved at a time (a slow
// moment must not swing the size), within [min_rows, max_rows].
uint64_t next_range_rows(uint64_t rows, double took_ms, double target_ms, uint64_t min_rows,
                         uint64_t max_rows);

}  // namespace cutover::verify
