// What cutover rewrites in a client's text (now() pinned, defaults filled in) stays invisible
// in old's errors: their position is in the client's own text, as PostgreSQL gives it when
// the client is connected directly.
#include <libpq-fe.h>

#include <memory>

#include "tests/proxy/mirror_fixture.h"

namespace cutover::testing {
namespace {

class RewrittenErrorsTest : public MirrorTest {
 protected:
  void SetUp() override {
    for (PgCluster* db : {&old_db(), &TwoClusters::new_db()}) {
      db->query(
          "drop table if exists ev; create table ev(id serial primary key, n int, at "
          "timestamptz default now(), note text)");
    }
    MirrorTest::SetUp();
  }
};

struct Error {
  std::string sqlstate;
  std::string position;
  friend bool operator==(const Error&, const Error&) = default;
};

Error error_at(const Connection& c, const std::string& sql) {
  std::unique_ptr<PGresult, decltype(&PQclear)> r(PQexec(c.get(), sql.c_str()), &PQclear);
  const char* state = PQresultErrorField(r.get(), PG_DIAG_SQLSTATE);
  const char* position = PQresultErrorField(r.get(), PG_DIAG_STATEMENT_POSITION);
  return {state != nullptr ? state : "", position != nullptr ? position : ""};
}

TEST_F(RewrittenErrorsTest, AnErrorAfterPinnedTextPointsWhereTheClientWroteIt) {
  Connection through = connect_proxy();
  Connection direct = old_db().connect();
  for (const std::string sql :
       {// now() became a long CAST before the bad value
        "insert into ev (n, at, note) values (1, now(), 'é'), (2, now(), 'b'), ('x', now(), 'c')",
        // the serial id and at's default appended, CURRENT_DATE pinned
        "insert into ev (note, n) values ('é', CURRENT_DATE - CURRENT_DATE), ('c', 'y')",
        // pinned inside an UPDATE mirrored by its effect
        "update ev set at = now(), n = 'z' where note = 'b'"}) {
    const Error seen = error_at(through, sql);
    EXPECT_EQ(seen.sqlstate, "22P02") << sql;
    EXPECT_EQ(seen, error_at(direct, sql)) << sql;
    const size_t quote = sql.rfind(sql.find("'x'") != std::string::npos   ? "'x'"
                                   : sql.find("'y'") != std::string::npos ? "'y'"
                                                                          : "'z'");
    // PostgreSQL counts characters from 1: é before it is one, not two.
    const size_t multibyte = sql.find("é") < quote ? 1 : 0;
    EXPECT_EQ(seen.position, std::to_string(quote + 1 - multibyte)) << sql;
  }
  EXPECT_EQ(every_row(TwoClusters::new_db()), every_row(old_db()));
}

}  // namespace
}  // namespace cutover::testing
