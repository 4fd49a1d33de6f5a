// What a write did to its rows on each side: witnesses compared as sets, told apart by key
// only when they differ (which rows, which columns), and bounded in what is kept.
#include "verify/row_effects.h"

#include <gtest/gtest.h>

#include "verify/comparator.h"

namespace cutover::verify {
namespace {

using Kind = RowDifference::Kind;

RowEffects of(const std::vector<std::string>& witnesses) {
  RowEffects effects;
  for (const std::string& w : witnesses) effects.add(w);
  return effects;
}

TEST(RowEffectsTest, TheSameRowsInAnotherOrderAreEqual) {
  const std::string a = R"({"id" : 1, "region" : "eu", "" : {"id":1,"region":"eu","v":"a"}})";
  const std::string b = R"({"id" : 2, "region" : "eu", "" : {"id":2,"region":"eu","v":null}})";
  EXPECT_EQ(of({a, b}), of({b, a}));
  EXPECT_NE(of({a, b}), of({a}));
  EXPECT_NE(of({a, a}), of({a}));  // a row changed twice is not a row changed once
  EXPECT_TRUE(differences(of({a, b}), of({b, a}), 10).empty());
  // A row changed twice in one statement (found by the fuzzer): its versions match as a set.
  const std::string a2 = R"({"id" : 1, "region" : "eu", "" : {"id":1,"region":"eu","v":"z"}})";
  EXPECT_TRUE(differences(of({a, a2, b}), of({b, a2, a}), 10).empty());
  const auto twice = differences(of({a, a2}), of({a, a}), 10);
  ASSERT_EQ(twice.size(), 1u);
  EXPECT_EQ(twice[0].columns, std::vector<std::string>{"v"});
}

TEST(RowEffectsTest, RowsAreMatchedByKeyAndTheirDifferingColumnsNamed) {
  const RowEffects on_old = of({R"({"id" : 1, "region" : "eu", "" : {"id":1,"v":"a","n":1}})",
                                R"({"id" : 2, "region" : "eu", "" : {"id":2,"v":"b","n":2}})",
                                R"({"id" : 3, "region" : "us", "" : {"id":3,"v":"c","n":3}})"});
  const RowEffects on_new = of({R"({"id" : 4, "region" : "us", "" : {"id":4,"v":"d","n":4}})",
                                R"({"id" : 2, "region" : "eu", "" : {"id":2,"v":null,"n":2}})",
                                R"({"id" : 1, "region" : "eu", "" : {"id":1,"v":"a","n":1}})"});
  const std::vector<RowDifference> found = differences(on_old, on_new, 10);
  ASSERT_EQ(found.size(), 3u);
  EXPECT_EQ(found[0].key, "(id, region)=(2, eu)");
  EXPECT_EQ(found[0].kind, Kind::kDifferent);
  EXPECT_EQ(found[0].columns, std::vector<std::string>{"v"});
  EXPECT_EQ(found[1].key, "(id, region)=(3, us)");
  EXPECT_EQ(found[1].kind, Kind::kMissingOnNew);
  EXPECT_EQ(found[2].key, "(id, region)=(4, us)");
  EXPECT_EQ(found[2].kind, Kind::kOnlyOnNew);
  EXPECT_EQ(difference_name(found[2].kind), "only_on_new");
  EXPECT_EQ(differences(on_old, on_new, 2).size(), 2u);  // at most the limit
  // A column one side lacks differs too.
  const auto extra = differences(of({R"({"id" : 1, "" : {"id":1}})"}),
                                 of({R"({"id" : 1, "" : {"id":1,"w":0}})"}), 10);
  ASSERT_EQ(extra.size(), 1u);
  EXPECT_EQ(extra[0].columns, std::vector<std::string>{"w"});
}

TEST(RowEffectsTest, PastTheKeptRowsOnlyTheSumTellsAndNoRowIsNamed) {
  RowEffects on_old;
  RowEffects on_new;
  for (size_t i = 0; i <= RowEffects::kKeptRows; ++i) {
    const std::string id = std::to_string(i);
    std::string row = R"({"id" : )";
    row.append(id).append(R"(, "" : {"id":)").append(id).append(R"(,"n":1}})");
    on_old.add(row);
    on_new.add(i == 5 ? R"({"id" : 5, "" : {"id":5,"n":2}})" : row);
  }
  EXPECT_EQ(on_old.kept().size(), RowEffects::kKeptRows);
  EXPECT_FALSE(on_old.complete());
  EXPECT_NE(on_old, on_new);
  EXPECT_TRUE(differences(on_old, on_new, 10).empty());
  EXPECT_TRUE(differences(of({"not json"}), of({"{}"}), 10).empty());
  // Wide rows: past kKeptBytes of witnesses too.
  const std::string wide =
      R"({"id" : 1, "" : {"id":1,"body":")" + std::string(RowEffects::kKeptBytes, 'x') + R"("}})";
  EXPECT_FALSE(of({wide}).complete());
  EXPECT_EQ(of({wide}).rows(), 1u);
}

TEST(RowEffectsTest, NewGetsTheKeysWithoutTheRows) {
  EXPECT_EQ(witness_key(R"({"id" : 7, "r" : "a\"b", "" : {"id":7,"v":"x"}})"),
            R"({"id":7,"r":"a\"b"})");
  EXPECT_EQ(witness_key(R"({"id" : 7})"), R"({"id" : 7})");  // keys alone: as they are
  EXPECT_FALSE(witness_key(R"({"id" : 7, "" : )"));
}

TEST(RowEffectsTest, TheMismatchLogNamesTheTableTheRowsAndTheirColumns) {
  WritePair pair{.fingerprint = 0xabc, .effect_table = "s.t"};
  pair.old_side.tags = pair.new_side.tags = {"UPDATE 1"};
  pair.old_side.effects = of({R"({"id" : 7, "" : {"id":7,"v":"a"}})"});
  pair.new_side.effects = of({R"({"id" : 7, "" : {"id":7,"v":"b"}})"});
  ASSERT_EQ(compare(pair), MismatchKind::kEffects);
  const std::string line = mismatch_line(pair, MismatchKind::kEffects, row_differences(pair));
  EXPECT_NE(line.find(R"("kind":"effects")"), std::string::npos) << line;
  EXPECT_NE(line.find(R"("effects":{"table":"s.t","old_rows":1,"new_rows":1,"complete":true,)"
                      R"x("rows":[{"key":"(id)=(7)","kind":"different","columns":["v"]}]})x"),
            std::string::npos)
      << line;
  pair.new_side.effects = pair.old_side.effects;
  EXPECT_FALSE(compare(pair).has_value());
  EXPECT_EQ(mismatch_line(pair, MismatchKind::kTags, row_differences(pair)).find("effects"),
            std::string::npos);
}

}  // namespace
}  // namespace cutover::verify
