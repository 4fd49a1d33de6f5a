// The pure parts of background verification: the SQL that cuts a table into key ranges, the
// canonical forms' SQL, how a row is named, how range sizes adapt, and the report's lines.
// Whether PostgreSQL agrees with them is tests/proxy/verification_test.cpp's business.
#include "verify/key_range.h"

#include <gtest/gtest.h>

#include "verify/canonical_row.h"
#include "verify/verify_report.h"

namespace cutover::verify {
namespace {

const std::vector<KeyColumn> key_of_orders{{.name = "region", .type = "text", .collation = "C"},
                                           {.name = "id", .type = "integer"}};

TEST(KeyRangeTest, RangesAreOpenOnTheLeftAndEitherEndMayBeOpen) {
  EXPECT_EQ(range_predicate(key_of_orders, {}), "true");
  EXPECT_EQ(range_predicate(key_of_orders, {.after = KeyValue{"eu", "7"}, .through = std::nullopt}),
            R"(("region" COLLATE "C", "id") > ('eu'::text COLLATE "C", '7'::integer))");
  EXPECT_EQ(
      range_predicate(key_of_orders, {.after = std::nullopt, .through = KeyValue{"it's", "9"}}),
      R"(("region" COLLATE "C", "id") <= ('it''s'::text COLLATE "C", '9'::integer))");
  EXPECT_EQ(range_predicate({{.name = "id", .type = "bigint"}},
                            {.after = KeyValue{"1"}, .through = KeyValue{"5"}}),
            R"(("id") > ('1'::bigint) AND ("id") <= ('5'::bigint))");
}

TEST(KeyRangeTest, AKeyIsReadUnderNamesOfItsOwnAndNamedAsPostgresNamesRows) {
  // An output column named like the key column would win in ORDER BY and sort numbers as text.
  EXPECT_EQ(key_text_sql(key_of_orders),
            R"("region"::text AS key_text_1, "id"::text AS key_text_2)");
  EXPECT_EQ(key_order_sql(key_of_orders), R"("region" COLLATE "C", "id")");
  EXPECT_EQ(describe_key(key_of_orders, {"eu", "7"}), "(region, id)=(eu, 7)");
  EXPECT_EQ(key_equals_predicate({{.name = "we\"ird", .type = "integer"}}, {"3"}),
            R"(("we""ird") = ('3'::integer))");
}

TEST(KeyRangeTest, RangeSizesFollowTheTargetTimeAtMostDoublingOrHalving) {
  EXPECT_EQ(next_range_rows(1000, 250, 500, 100, 10000), 2000u);  // twice as fast as wanted
  EXPECT_EQ(next_range_rows(1000, 100, 500, 100, 10000), 2000u);  // five times: still doubled
  EXPECT_EQ(next_range_rows(1000, 625, 500, 100, 10000), 800u);
  EXPECT_EQ(next_range_rows(1000, 5000, 500, 100, 10000), 500u);   // a slow moment: halved
  EXPECT_EQ(next_range_rows(8000, 100, 500, 100, 10000), 10000u);  // never past the most
  EXPECT_EQ(next_range_rows(150, 5000, 500, 100, 10000), 100u);    // nor under the least
  EXPECT_EQ(next_range_rows(1000, 0, 500, 100, 10000), 2000u);     // too fast to time
}

TEST(CanonicalRowTest, EachFamilyHasItsForm) {
  EXPECT_EQ(
      canonical_column_sql({.name = "n", .base_type = "numeric"}),
      R"(CASE WHEN "n"::text LIKE '%.%' THEN rtrim(rtrim("n"::text, '0'), '.') ELSE "n"::text END)");
  EXPECT_EQ(canonical_column_sql({.name = "f", .base_type = "float4"}),
            R"(encode(float8send("f"::float8), 'hex'))");
  EXPECT_EQ(canonical_column_sql({.name = "b", .base_type = "bytea"}), R"(md5("b"))");
  EXPECT_EQ(canonical_column_sql({.name = "at", .base_type = "timestamptz"}), R"("at"::text)");
  // Each column's text quoted, NULL bare: no two rows share a text.
  EXPECT_EQ(
      canonical_row_sql({{.name = "a", .base_type = "text"}, {.name = "b", .base_type = "int4"}}),
      R"(concat_ws(',', VARIADIC ARRAY[quote_nullable("a"::text), quote_nullable("b"::text)]::text[]))");
  EXPECT_EQ(
      row_hash_sql({{.name = "a", .base_type = "text"}}),
      R"(('x' || left(md5(concat_ws(',', VARIADIC ARRAY[quote_nullable("a"::text)]::text[])), 16))::bit(64)::bigint)");
}

TEST(VerifyReportTest, OneLinePerDifferenceThenTheTablesProblem) {
  TableVerdict verdict{.table = "public.t", .differing_rows = 3};
  verdict.rows = {
      {.kind = RowDifference::Kind::kDifferent, .key = "(id)=(1)", .columns = {"v", "w"}},
      {.kind = RowDifference::Kind::kMissingOnNew, .key = "(id)=(2)"},
      {.kind = RowDifference::Kind::kOnlyOnNew, .key = "(id)=(3)"}};
  verdict.problem = "columns_differ";
  verdict.detail = "only on old: [x]";
  EXPECT_EQ(difference_lines(verdict),
            (std::vector<std::string>{
                R"j({"table":"public.t","kind":"different","key":"(id)=(1)","columns":["v","w"]})j",
                R"j({"table":"public.t","kind":"missing_on_new","key":"(id)=(2)"})j",
                R"j({"table":"public.t","kind":"only_on_new","key":"(id)=(3)"})j",
                R"j({"table":"public.t","kind":"columns_differ","detail":"only on old: [x]"})j"}));
  const TableVerdict equal{.table = "public.u", .rows_old = 5, .rows_new = 5};
  EXPECT_TRUE(equal.equal());
  EXPECT_FALSE(verdict.equal());
  EXPECT_EQ(summary_line({verdict, equal}, 1.5),
            "tables=2 equal=1 rows_old=5 rows_new=5 differing_rows=3 seconds=1.500 "
            "differing_tables=public.t");
}

}  // namespace
}  // namespace cutover::verify
