// rows_named() and key_texts(): the rows a write names by value, as the journal's reports give
// them for the rows the mirror may have wrong.
#include "router/row_keys.h"

#include <gtest/gtest.h>

namespace cutover::router {
namespace {

std::vector<std::string> keys(std::string_view sql, const std::vector<std::string>& key,
                              const std::vector<std::optional<std::string>>& parameters = {}) {
  std::vector<std::string> out;
  for (const NamedRows& rows : rows_named(sql, parameters)) {
    for (std::string& text : key_texts(rows, key)) out.push_back(std::move(text));
  }
  return out;
}

using Texts = std::vector<std::string>;

TEST(RowKeys, UpdatesAndDeletesNameTheRowsTheirWhereClausePins) {
  EXPECT_EQ(keys("update s.t set v = 1 where id = 42 and k = 'a' and x > 1", {"id"}),
            Texts{"s.t(id)=(42)"});
  EXPECT_EQ(keys("update t set v = 1 where 'a' = k and id = -7", {"id", "k"}),
            Texts{"t(id, k)=(-7, 'a')"});
  EXPECT_EQ(keys("delete from t where t.id = $1", {"id"}, {"it's"}), Texts{"t(id)=('it''s')"});
  EXPECT_EQ(keys("delete from t where id = '5'::bigint", {"id"}), Texts{"t(id)=('5')"});
  // Not pinned to one value: nothing to name.
  EXPECT_EQ(keys("delete from t where id = 1 or id = 2", {"id"}), Texts{});
  EXPECT_EQ(keys("update t set v = 2 where id > 1", {"id"}), Texts{});
  EXPECT_EQ(keys("update t set v = 2 where k = 1", {"id"}), Texts{});      // not the key
  EXPECT_EQ(keys("delete from t where id = $2", {"id"}, {"1"}), Texts{});  // no such parameter
  EXPECT_EQ(keys("delete from t where id = null", {"id"}), Texts{});
  EXPECT_EQ(keys("update t set v = 1", {"id"}), Texts{});
}

TEST(RowKeys, InsertsNameEachRowTheyList) {
  EXPECT_EQ(keys("insert into t(id, v) values (1, 'a'), (2, $1), (-3, 'x'::text)", {"id"}, {"b"}),
            (Texts{"t(id)=(1)", "t(id)=(2)", "t(id)=(-3)"}));
  EXPECT_EQ(keys("insert into t(v, id) values ('a', now())", {"id"}), Texts{});  // no constant
  EXPECT_EQ(keys("insert into t values (1, 'a')", {"id"}), Texts{});  // columns unknown here
  EXPECT_EQ(keys("insert into t(id) select 1", {"id"}), Texts{});
}

TEST(RowKeys, EveryStatementOfAQuery) {
  EXPECT_EQ(
      keys("begin; update a set v = 1 where id = 1; delete from b where id = 2; commit", {"id"}),
      (Texts{"a(id)=(1)", "b(id)=(2)"}));
  EXPECT_EQ(keys("not sql at all", {"id"}), Texts{});
}

}  // namespace
}  // namespace cutover::router
