// The classification cache key: literals become '?', everything else stays byte for byte.
#include "router/normalize.h"

#include <gtest/gtest.h>

namespace cutover::router {
namespace {

TEST(NormalizeTest, ReplacesEveryKindOfConstant) {
  EXPECT_EQ(normalize_literals("SELECT 1, 2.5, .5, 1e10, 1.5E-3, 'a''b', E'x\\'y', U&'d\\0061t'"),
            "SELECT ?, ?, ?, ?, ?, ?, ?, ?");
  EXPECT_EQ(normalize_literals("SELECT B'1010', X'1F', N'abc', $$a 'b' c$$, $fn$ $$ $fn$"),
            "SELECT ?, ?, ?, ?, ?");
  EXPECT_EQ(normalize_literals("SELECT * FROM t WHERE id = 42"),
            normalize_literals("SELECT * FROM t WHERE id = 7"));
}

TEST(NormalizeTest, KeepsIdentifiersParametersCommentsAndQuotedNames) {
  EXPECT_EQ(normalize_literals("SELECT t1.c2, x$1 FROM t1 WHERE a = $1 AND b = $12"),
            "SELECT t1.c2, x$1 FROM t1 WHERE a = $1 AND b = $12");
  EXPECT_EQ(normalize_literals("SELECT \"it''s 1\" /* 'no' */ -- 2\n, 3"),
            "SELECT \"it''s 1\" /* 'no' */ -- 2\n, ?");
  EXPECT_EQ(normalize_literals("SELECT 1 /* outer /* 'inner' */ 2 */ FROM t"),
            "SELECT ? /* outer /* 'inner' */ 2 */ FROM t");
  // A prefix letter that ends an identifier is not a prefix: "tablee" then a literal.
  EXPECT_EQ(normalize_literals("SELECT tablee'x'"), "SELECT tablee?");
}

TEST(NormalizeTest, WriteKeywordsInsideLiteralsDisappearButOutsideTheyStay) {
  EXPECT_EQ(normalize_literals("SELECT 'x'; DELETE FROM t"), "SELECT ?; DELETE FROM t");
  EXPECT_NE(normalize_literals("SELECT 'DELETE FROM t'"),
            normalize_literals("SELECT ''; DELETE FROM t"));
  // Under standard_conforming_strings a backslash does not escape in '...': the DELETE is real.
  EXPECT_EQ(normalize_literals("SELECT 'a\\'; DELETE FROM t; --'"), "SELECT ?; DELETE FROM t; --'");
  EXPECT_EQ(normalize_literals("SELECT E'a\\'; DELETE FROM t; --'"), "SELECT ?");
}

TEST(NormalizeTest, UnterminatedInputIsKeptAsItIs) {
  EXPECT_EQ(normalize_literals("SELECT 1, 'abc"), "SELECT ?, 'abc");
  EXPECT_EQ(normalize_literals("SELECT $a$ abc"), "SELECT $a$ abc");
  EXPECT_EQ(normalize_literals("SELECT 1 /* open"), "SELECT ? /* open");
  EXPECT_EQ(normalize_literals("SELECT \"open"), "SELECT \"open");
  EXPECT_EQ(normalize_literals(""), "");
}

}  // namespace
}  // namespace cutover::router
