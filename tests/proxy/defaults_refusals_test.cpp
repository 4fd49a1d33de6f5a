// INSERTs whose differing defaults cannot be pinned, in the simple protocol, and writes calling
// a volatile function of the user's: refused before old runs them unless unsafe writes are
// allowed; and INSERTs old refuses anyway, which reach it
// unchanged so the client gets PostgreSQL's own error.
#include <libpq-fe.h>

#include <string>

#include "tests/proxy/defaults_fixture.h"

namespace cutover::testing {
namespace {

// An INSERT ... SELECT leaves the defaults to each server (old's and new's sequences would
// give other keys): refused before old runs it, unless unsafe writes are allowed, when it is
// reported and the rows differ.
TEST_F(DefaultsTest, AnInsertSelectIntoDifferingDefaultsIsRefusedUnlessAllowed) {
  differs_on_purpose_ = true;  // allowed, the unsafe write stores its own values on each
  const std::string insert_select = "insert into gen (v) select 'from a select'";
  Connection c = connect_proxy();
  const std::string refused = error_of(c, insert_select);
  EXPECT_EQ(refused.substr(0, 7), "0A000: ") << refused;
  EXPECT_NE(refused.find("(defaults of gen)"), std::string::npos) << refused;
  EXPECT_EQ(old_db().query("select count(*) from gen"), "0");
  EXPECT_EQ(every_row(TwoClusters::new_db()), every_row(old_db()));

  start_routing(0, "  read_your_writes_ms: 0\n  mirror: { unsafe_writes: allow }\n");
  connect_proxy().exec(insert_select);
  EXPECT_NE(proxy_->log().find("\"calls\":\"defaults of gen\""), std::string::npos)
      << proxy_->log();
  EXPECT_NE(TwoClusters::new_db().query("select id from gen"),
            old_db().query("select id from gen"));
}

// A volatile function of the user's in a write gives each server its own value as random()
// does, whether the write has a key to witness it or not: refused before old runs it, in a
// Query and as a prepared statement. A stable one, and the same volatile one in a plain
// SELECT, go through.
TEST_F(DefaultsTest, AWriteCallingAVolatileFunctionOfTheUsersIsRefusedBeforeOld) {
  for (PgCluster* db : {&old_db(), &TwoClusters::new_db()}) {
    db->query(
        "create table loose (v text); "
        "create function app_token() returns text volatile language sql as "
        "'select md5(random()::text)'; "
        "create function app_label() returns text stable language sql as $$select 'label'$$");
  }
  Connection c = connect_proxy();
  for (const char* sql : {"insert into loose select app_token()",
                          "insert into gen (v) values ('kept'); update gen set v = app_token()",
                          "create table made as select public.app_token() as t"}) {
    const std::string refused = error_of(c, sql);
    EXPECT_EQ(refused.substr(0, 7), "0A000: ") << refused;
    EXPECT_NE(refused.find("app_token()), so it cannot be mirrored"), std::string::npos) << refused;
  }
  const char* values[] = {"x"};
  PGresult* prepared = PQexecParams(c.get(), "insert into loose values (app_token() || $1)", 1,
                                    nullptr, values, nullptr, nullptr, 0);
  EXPECT_STREQ(PQresultErrorField(prepared, PG_DIAG_SQLSTATE), "0A000");
  PQclear(prepared);
  c.exec("insert into loose select app_label()");
  EXPECT_EQ(c.query_value("select length(app_token())"), "32");
  EXPECT_EQ(old_db().query("select string_agg(v, ',') from loose"), "label");
  EXPECT_EQ(old_db().query("select count(*) from gen"), "0");
  EXPECT_EQ(every_row(TwoClusters::new_db()), every_row(old_db()));
}

// What old refuses anyway reaches it unchanged: the client gets PostgreSQL's own error (new,
// with the same table, says directly what old says), never a refusal of cutover's, and never
// an acceptance where PostgreSQL refuses (cutover adds OVERRIDING SYSTEM VALUE only for the
// identity values it fills itself).
TEST_F(DefaultsTest, AnInsertOldRefusesGetsItsOwnErrorThroughCutover) {
  Connection c = connect_proxy();
  Connection direct = TwoClusters::new_db().connect();
  for (const char* sql :
       {"insert into gen (ident, v) values (default, 'a'), (5, 'b')",
        "insert into gen (ident, v) values (5, 'b')", "insert into gen (nope) values (1)",
        "insert into missing (v) values ('a')", "insert into gen (v) values ('a', 'b')"}) {
    const std::string through = error_of(c, sql);
    EXPECT_EQ(through, error_of(direct, sql)) << sql;
    EXPECT_NE(through.substr(0, 5), "0A000") << through;
  }
  EXPECT_EQ(old_db().query("select count(*) from gen"), "0");
  EXPECT_EQ(every_row(TwoClusters::new_db()), every_row(old_db()));
  // A table made by the same Query as an INSERT leaving its defaults to each server.
  const std::string made =
      error_of(c, "create table made(id serial, v text); insert into made (v) values ('a')");
  EXPECT_EQ(made.substr(0, 7), "0A000: ") << made;
  EXPECT_NE(made.find("(defaults of made, created in the same query)"), std::string::npos) << made;
  EXPECT_EQ(old_db().query("select count(*) from pg_tables where tablename = 'made'"), "0");
}

}  // namespace
}  // namespace cutover::testing
