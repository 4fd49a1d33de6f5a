// The canonical row hash: equal rows give equal digests, and the encoding keeps NULL, empty
// strings, column boundaries and row boundaries apart.
#include "verify/row_hash.h"

#include <gtest/gtest.h>

#include <optional>
#include <string_view>
#include <vector>

#include "protocol/backend.h"

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

// A DataRow body as a server sends it.
std::string data_row(const std::vector<std::optional<std::string>>& columns) {
  std::string message;
  protocol::encode(protocol::DataRow{.columns = columns}, message);
  return message.substr(5);  // type and length
}

TEST(RowSetHashTest, OneRowHashesAsTheCanonicalRowHashDoes) {
  RowSetHasher set;
  ASSERT_TRUE(set.add_data_row(data_row({"1", std::nullopt, ""})));
  EXPECT_EQ(set.rows(), 1u);
  EXPECT_EQ(set.digest(), digest_of({{"1", std::nullopt, ""}}));
}

TEST(RowSetHashTest, OrderDoesNotCountButEveryRowDoes) {
  RowSetHasher forward;
  RowSetHasher backward;
  RowSetHasher fewer;
  for (const char* v : {"a", "b", "c"}) forward.add_data_row(data_row({v}));
  for (const char* v : {"c", "b", "a"}) backward.add_data_row(data_row({v}));
  for (const char* v : {"a", "b"}) fewer.add_data_row(data_row({v}));
  EXPECT_EQ(forward.digest(), backward.digest());
  EXPECT_NE(forward.digest(), fewer.digest());
  EXPECT_EQ(to_hex(forward.digest()).size(), 32u);
}

TEST(RowSetHashTest, MalformedRowsAreRefusedAndNotCounted) {
  RowSetHasher set;
  std::string row = data_row({"abc"});
  EXPECT_FALSE(set.add_data_row(row.substr(0, row.size() - 1)));  // cut short
  EXPECT_FALSE(set.add_data_row(row + "x"));                      // trailing bytes
  EXPECT_FALSE(set.add_data_row("\x00"));
  EXPECT_EQ(set.rows(), 0u);
  EXPECT_EQ(set.digest(), Digest{});
}

}  // namespace
}  // namespace cutover::verify
