// The canonical row hash: equal rows give equal digests, and the encoding keeps NULL, empty
// strings, column boundaries and row boundaries apart.
#include "verify/row_hash.h"

#include <gtest/gtest.h>

#include <optional>
#include <string_view>
#include <vector>

namespace cutover::verify {
namespace {

using Row = std::vector<std::optional<std::string_view>>;

Digest digest_of(const std::vector<Row>& rows) {
  RowHasher hasher;
  for (const Row& row : rows) {
    hasher.begin_row(static_cast<uint32_t>(row.size()));
    for (const auto& column : row) hasher.add_column(column);
  }
  return hasher.digest();
}

TEST(RowHashTest, SameRowsSameDigest) {
  std::vector<Row> rows{{"1", "ann", std::nullopt}, {"2", "bob", "x"}};
  EXPECT_EQ(digest_of(rows), digest_of(rows));
  EXPECT_NE(digest_of(rows), Digest{});
}

TEST(RowHashTest, NullDiffersFromEmpty) {
  EXPECT_NE(digest_of({{std::nullopt}}), digest_of({{""}}));
}

TEST(RowHashTest, ColumnBoundariesMatter) {
  EXPECT_NE(digest_of({{"ab", "c"}}), digest_of({{"a", "bc"}}));
}

TEST(RowHashTest, RowBoundariesMatter) {
  EXPECT_NE(digest_of({{"a", "b"}}), digest_of({{"a"}, {"b"}}));
  EXPECT_NE(digest_of({}), digest_of({{}}));
}

TEST(RowHashTest, OrderMatters) { EXPECT_NE(digest_of({{"1"}, {"2"}}), digest_of({{"2"}, {"1"}})); }

TEST(RowHashTest, OneFlippedBitChangesTheDigest) {
  EXPECT_NE(digest_of({{std::string_view("\x00\x01", 2)}}),
            digest_of({{std::string_view("\x00\x03", 2)}}));
}

}  // namespace
}  // namespace cutover::verify
