// The canonical row hash: XXH3-128 over a length-prefixed encoding of every column of a row,
// shared by the inline comparator and the background checksum jobs so their hashes agree.
// Not a comparator or a scheduler; it only folds rows into a digest.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace cutover::verify {

struct Digest {
  uint64_t high = 0;
  uint64_t low = 0;
  friend bool operator==(const Digest&, const Digest&) = default;
};

// Adds the XXH3-128 of `bytes` to `sum`, modulo 2^128: a digest of a set, whatever the order
// its members come in.
void add_to_set(Digest& sum, std::string_view bytes);

// Folds rows, in order, into one digest. Each column is encoded as a 4-byte big-endian length
// (0xFFFFFFFF for NULL) followed by its bytes, each row as its column count then its columns,
// so no two different row sequences share an encoding.
class RowHasher {
 public:
  RowHasher();
  RowHasher(const RowHasher&) = delete;
  RowHasher& operator=(const RowHasher&) = delete;
  ~RowHasher();

  void begin_row(uint32_t columns);
  void add_column(std::optional<std::string_view> value);
  Digest digest() const;

 private:
  void update(const void* data, size_t size);
  struct State;
  std::unique_ptr<State> state_;
};

// The rows a statement returned, as a set: each row (a DataRow body: a 16-bit column count,
// then each column's 32-bit length, -1 for NULL, and bytes) is hashed on its own in
// RowHasher's encoding, and the digests are added (mod 2^128). Two databases return the rows
// of one UPDATE ... RETURNING in their own physical order, so order must not count.
class RowSetHasher {
 public:
  // False (and the row not counted) when the body is not a well-formed DataRow.
  bool add_data_row(std::string_view body);
  uint64_t rows() const { return rows_; }
  Digest digest() const { return sum_; }

 private:
  uint64_t rows_ = 0;
  Digest sum_;
  std::string encoded_;  // reused between rows
};

// 32 lowercase hex digits.
std::string to_hex(const Digest& digest);

}  // namespace cutover::verify
