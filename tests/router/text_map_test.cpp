// TextMap: a place in the text cutover ran, found in the text the client sent, through one
// rewrite or two, in characters as PostgreSQL counts them.
#include "router/text_map.h"

#include <gtest/gtest.h>

namespace cutover::router {
namespace {

TEST(TextMapTest, APlaceAfterAnEditMovesBackByWhatItAdded) {
  // "select now(), 'x'::int" with now() (at 7, 5 bytes) pinned to 14 bytes.
  const std::string sent = "select now(), 'x'::int";
  const std::string ran = "select CAST(1 AS tz)x, 'x'::int";
  TextMap map;
  map.begin_rewrite();
  map.edit(7, 5, 14);
  EXPECT_EQ(map.to_original(3), 3u);    // before it
  EXPECT_EQ(map.to_original(10), 7u);   // inside what it put in: its start
  EXPECT_EQ(map.to_original(23), 14u);  // the 'x' literal
  EXPECT_EQ(map.position_in("24", ran, sent), "15");
  EXPECT_EQ(map.position_in("x", ran, sent), std::nullopt);
  EXPECT_EQ(map.position_in("0", ran, sent), std::nullopt);
}

TEST(TextMapTest, TwoRewritesAndEditsInAnyOrderAndMultibyteText) {
  TextMap map;
  map.begin_rewrite();  // the first: 3 bytes at 10 became 1, 0 at 2 became 4
  map.edit(10, 3, 1);
  map.edit(2, 0, 4);
  map.begin_rewrite();  // then, in that text: 0 bytes at 0 became 5
  map.edit(0, 0, 5);
  // Offset 20 of the final text: 15 before the second rewrite, then 15 - 4 + 2 = 13.
  EXPECT_EQ(map.to_original(20), 13u);
  const std::string sent = "é = 1 AND x";  // é is two bytes, one character
  TextMap none;
  EXPECT_EQ(none.position_in("11", sent, sent), "11");
}

}  // namespace
}  // namespace cutover::router
