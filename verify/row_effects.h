// What a mirrored write did to its rows, as each database told cutover: for every row, a
// witness, the last RETURNING column cutover added to the write (router/row_effect.h), which
// names the row by key and holds the whole row after the write (before it, for a DELETE):
//   {"id" : 7, "" : {"id":7,"v":"x","at":"2026-12-07T11:14:05.863893+00:00"}}
// The two sides' witnesses are compared as sets (a sum of 128-bit hashes, so the order the
// rows came in does not count); only when the sums differ are they matched by key, to say
// which rows differ and in which columns. Bounded: past kKeptRows rows, or kKeptBytes of
// witnesses, only the sum grows.
// Not how the witnesses are asked for or taken out of the client's stream (the mirror).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "verify/row_hash.h"

namespace cutover::verify {

class RowEffects {
 public:
  static constexpr size_t kKeptRows = 1000;
  static constexpr size_t kKeptBytes = size_t{1} << 20;

  void add(std::string_view witness);
  uint64_t rows() const { return rows_; }
  const Digest& digest() const { return digest_; }
  // Whether every row's witness is kept (differences() can then name rows).
  bool complete() const { return rows_ == kept_.size(); }
  const std::vector<std::string>& kept() const { return kept_; }

  friend bool operator==(const RowEffects& a, const RowEffects& b) {
    return a.rows_ == b.rows_ && a.digest_ == b.digest_;
  }

 private:
  uint64_t rows_ = 0;
  Digest digest_{};
  std::vector<std::string> kept_{};
  size_t kept_bytes_ = 0;
};

struct RowDifference {
  enum class Kind : uint8_t {
    kMissingOnNew,  // old's write changed the row, new's did not
    kOnlyOnNew,     // new's write changed a row old's did not
    kDifferent,     // both changed it, and it holds other values
  };
  Kind kind = Kind::kDifferent;
  std::string key{};                   // the way PostgreSQL names a row: (id, region)=(7, eu)
  std::vector<std::string> columns{};  // kDifferent: the columns whose values differ
};
// "missing_on_new", "only_on_new" or "different".
std::string_view difference_name(RowDifference::Kind kind);

// The rows whose witnesses differ, matched by key, at most `limit`, in key order. Empty when
// either side is not complete() (its rows past kKeptRows cannot be told apart) or a witness
// does not parse.
std::vector<RowDifference> differences(const RowEffects& on_old, const RowEffects& on_new,
                                       size_t limit);

// A witness without its row: the key's JSON object alone (what json_populate_recordset reads
// as new's keys); the witness itself when it holds no row. nullopt when it does not parse.
std::optional<std::string> witness_key(std::string_view witness);

}  // namespace cutover::verify
