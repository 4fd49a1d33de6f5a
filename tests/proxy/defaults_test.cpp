// Column defaults that differ per server, pinned by cutover for mirrored INSERTs: serial,
// identity (BY DEFAULT and ALWAYS), gen_random_uuid(), now(), clock_timestamp() and a volatile
// function of the user's end up identical on old and new, from one client and from 16 at
// once, also after DDL adds such a column, and through the extended protocol (unnamed and
// named statements, text and binary parameters; batches in pieces: defaults_pieces_test.cpp); what
// the extended protocol cannot pin is refused (the simple protocol's refusals:
// defaults_refusals_test.cpp); and new's sequences, which pinned keys leave standing, are kept
// ahead of old's so that inserting on new after a switch meets no duplicate key.
#include <arpa/inet.h>
#include <libpq-fe.h>

#include <algorithm>
#include <thread>
#include <vector>

#include "tests/proxy/defaults_fixture.h"

namespace cutover::testing {
namespace {

TEST_F(DefaultsTest, EveryKindOfDifferingDefaultIsTheSameOnBoth) {
  Connection c = connect_proxy();
  c.exec("insert into gen (v) values ('a'), ('bb')");
  c.exec(
      "insert into gen values (default, default, default, default, default, default, "
      "default, 'ccc')");
  c.exec("insert into gen default values");
  c.exec("begin");
  c.exec("insert into gen (v, n) values ('in a transaction', 1)");
  c.exec("insert into gen (by_default, v) values (1000, 'explicit key')");
  c.exec("commit");
  // The client sees old's keys, which new now has as well.
  const std::string returned = c.query_value("insert into gen (v) values ('r') returning id");
  EXPECT_EQ(returned, old_db().query("select id from gen where v = 'r'"));
  const std::string on_old = old_db().query(kAllRows);
  EXPECT_EQ(old_db().query("select count(*) from gen"), "7");
  EXPECT_EQ(TwoClusters::new_db().query(kAllRows), on_old);
  // old's sequences gave the keys: 1..7 in order, as they would without cutover.
  EXPECT_EQ(old_db().query("select string_agg(id::text, ',' order by id) from gen"),
            "1,2,3,4,5,6,7");
  EXPECT_EQ(proxy_->log().find("mirror_nondeterministic"), std::string::npos) << proxy_->log();
  EXPECT_EQ(mismatches_after_sentinel().size(), 1u);
}

TEST_F(DefaultsTest, SixteenClientsInsertingAndUpdatingLeaveBothIdentical) {
  constexpr int kClients = 16;
  constexpr int kRounds = 40;
  connect_proxy().exec("insert into gen (v) values ('hot'), ('hot'), ('hot'), ('hot')");
  auto run_client = [&](int i) {
    Connection c = connect_proxy();
    for (int k = 0; k < kRounds; ++k) {
      const std::string tag = std::to_string(i) + "-" + std::to_string(k);
      c.exec("insert into gen (v) values ('" + tag + "')");
      c.exec("update gen set updated_at = now() where v = '" + tag + "'");
      if (k % 10 == 0) {
        c.exec("begin");
        c.exec("insert into gen (v) values ('t" + tag + "'), ('u" + tag + "')");
        c.exec("update gen set updated_at = now() where v in ('t" + tag + "', 'u" + tag + "')");
        // Hot rows every client updates, one by one in key order (a single UPDATE visits
        // them in physical order, which updates change: clients would deadlock on old).
        c.exec(
            "update gen set n = n + 1 where id = 1; update gen set n = n + 1 where id = 2; "
            "update gen set n = n + 1 where id = 3; update gen set n = n + 1 where id = 4");
        c.exec("commit");
      }
    }
  };
  std::vector<std::thread> clients;
  for (int i = 0; i < kClients; ++i) {
    clients.emplace_back([&, i] {
      try {
        run_client(i);
      } catch (const std::exception& e) {  // reported, rather than ending the test binary
        ADD_FAILURE() << "client " << i << ": " << e.what();
      }
    });
  }
  for (auto& client : clients) client.join();
  EXPECT_EQ(old_db().query("select count(*) from gen"),
            std::to_string(4 + kClients * (kRounds + 2 * (kRounds / 10))));
  const std::string on_old = old_db().query(kAllRows);
  EXPECT_TRUE(TwoClusters::new_db().query(kAllRows) == on_old);  // (too long to print)
  EXPECT_EQ(old_db().query("select count(*) from gen where updated_at is null"), "4");  // hot
  EXPECT_EQ(old_db().query("select sum(n) from gen where id <= 4"),
            std::to_string(4 * (7 + kClients * (kRounds / 10))));
  auto mismatches = mismatches_after_sentinel();
  EXPECT_EQ(mismatches.size(), 1u) << mismatches.front();
}

TEST_F(DefaultsTest, AColumnAddedByDdlIsPinnedFromTheNextInsertOn) {
  Connection c = connect_proxy();
  c.exec("insert into gen (v) values ('before')");  // the table's columns are now cached
  // (With the default in the ADD COLUMN, each server would fill the old row its own way:
  // refused, WhileMirroringTest.)
  c.exec("alter table gen add column w uuid");
  c.exec("alter table gen alter column w set default gen_random_uuid()");
  c.exec("update gen set w = '00000000-0000-0000-0000-000000000000'");  // the old row's
  c.exec("insert into gen (v) values ('after')");
  EXPECT_EQ(TwoClusters::new_db().query(kAllRows), old_db().query(kAllRows));
  EXPECT_EQ(old_db().query("select count(distinct w) from gen"), "2");
}

TEST_F(DefaultsTest, AVolatileFunctionOfTheUsersInADefaultIsEvaluatedOnOld) {
  Connection c = connect_proxy();
  c.exec(
      "create or replace function token() returns text volatile language sql "
      "as $$ select md5(random()::text) $$; "
      "drop table if exists tokens; create table tokens(id int, t text default token())");
  c.exec("insert into tokens (id) values (1), (2)");
  EXPECT_EQ(TwoClusters::new_db().query("select id, t from tokens order by id"),
            old_db().query("select id, t from tokens order by id"));
  EXPECT_EQ(old_db().query("select count(distinct t) from tokens"), "2");
}

// One statement through libpq's extended protocol: unnamed (PQexecParams) or, with `name`,
// prepared once by the caller. Text parameters, or `binary` ones (int4 only here). Returns
// the first value of the first row, if any.
std::string run_extended(Connection& c, const std::string& sql, std::vector<std::string> values,
                         const char* name = nullptr, bool binary = false) {
  std::vector<const char*> pointers;
  std::vector<int> lengths;
  std::vector<int> formats;
  std::vector<Oid> types;
  std::vector<std::string> encoded;
  for (const std::string& v : values) {
    if (binary) {
      const uint32_t n = htonl(static_cast<uint32_t>(std::stoi(v)));
      encoded.emplace_back(reinterpret_cast<const char*>(&n), 4);
    } else {
      encoded.push_back(v);
    }
  }
  for (const std::string& v : encoded) {
    pointers.push_back(v.c_str());
    lengths.push_back(static_cast<int>(v.size()));
    formats.push_back(binary ? 1 : 0);
    types.push_back(binary ? 23 : 0);
  }
  const int n = static_cast<int>(values.size());
  PGresult* result =
      name != nullptr
          ? PQexecPrepared(c.get(), name, n, pointers.data(), lengths.data(), formats.data(), 0)
          : PQexecParams(c.get(), sql.c_str(), n, types.data(), pointers.data(), lengths.data(),
                         formats.data(), 0);
  const ExecStatusType status = PQresultStatus(result);
  EXPECT_TRUE(status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK)
      << sql << ": " << PQresultErrorMessage(result);
  std::string first = PQntuples(result) > 0 ? PQgetvalue(result, 0, 0) : "";
  PQclear(result);
  return first;
}

void prepare(Connection& c, const char* name, const char* sql) {
  PGresult* result = PQprepare(c.get(), name, sql, 0, nullptr);
  EXPECT_EQ(PQresultStatus(result), PGRES_COMMAND_OK) << PQresultErrorMessage(result);
  PQclear(result);
}

TEST_F(DefaultsTest, ExtendedProtocolDefaultsAndTimeFunctionsArePinned) {
  connect_proxy().exec(
      "drop table if exists plain; create table plain(id int, v text default 'x')");
  Connection c = connect_proxy();
  run_extended(c, "insert into plain (id) values (length($1))", {"same everywhere"});
  run_extended(c, "insert into gen (v) values ($1)", {"unnamed"});
  run_extended(c, "insert into gen (n, v) values ($1, 'binary')", {"42"}, nullptr, true);
  run_extended(c, "insert into gen (v, at) values ($1, now())", {"now() in the text"});
  prepare(c, "ins", "insert into gen (v) values ($1) returning id");
  prepare(c, "touch", "update gen set updated_at = statement_timestamp() where v = $1");
  for (int i = 0; i < 3; ++i) {
    const std::string tag = "named " + std::to_string(i);
    // The client sees old's key, the one new stored too.
    const std::string returned = run_extended(c, "", {tag}, "ins");
    EXPECT_EQ(returned, old_db().query("select id from gen where v = '" + tag + "'"));
    run_extended(c, "", {tag}, "touch");
  }
  c.exec("begin");
  run_extended(c, "", {"in a transaction"}, "ins");
  run_extended(c, "", {"in a transaction"}, "touch");
  c.exec("commit");
  // DISCARD ALL takes cutover's statements away with the client's: prepared again.
  c.exec("discard all");
  prepare(c, "ins", "insert into gen (v) values ($1) returning id");
  run_extended(c, "", {"after discard all"}, "ins");
  const std::string on_old = old_db().query(kAllRows);
  EXPECT_EQ(old_db().query("select count(*) from gen"), "8");
  EXPECT_EQ(TwoClusters::new_db().query(kAllRows), on_old);
  EXPECT_EQ(old_db().query("select string_agg(id::text, ',' order by id) from gen"),
            "1,2,3,4,5,6,7,8");
  EXPECT_EQ(old_db().query("select count(*) from gen where updated_at is not null"), "4");
  EXPECT_EQ(TwoClusters::new_db().query("select * from plain"), "15\tx");
  EXPECT_EQ(proxy_->log().find("mirror_nondeterministic"), std::string::npos) << proxy_->log();
  EXPECT_EQ(mismatches_after_sentinel().size(), 1u);
}

TEST_F(DefaultsTest, AfterDdlAPreparedInsertIsPinnedAnewAndTheStaleStatementClosed) {
  constexpr char kCutoversStatements[] =
      "select coalesce(string_agg(name, ',' order by name), '') from pg_prepared_statements "
      "where name like 'cutover%'";
  Connection c = connect_proxy();
  prepare(c, "ins", "insert into gen (v) values ($1)");
  run_extended(c, "", {"before"}, "ins");
  // A read: old answers. One statement of cutover's (the INSERT returning witnesses).
  const std::string before = c.query_value(kCutoversStatements);
  EXPECT_TRUE(before.starts_with("cutover_pin_")) << before;
  EXPECT_EQ(before.find(','), std::string::npos) << before;
  c.exec(
      "alter table gen add column k bigint; create sequence gen_k_seq owned by gen.k; "
      "alter table gen alter column k set default nextval('gen_k_seq')");
  TwoClusters::new_db().query("select setval('gen_k_seq', 100)");  // new's own keys differ
  run_extended(c, "", {"after"}, "ins");
  const std::string after = c.query_value(kCutoversStatements);  // the stale one closed
  EXPECT_TRUE(after.starts_with("cutover_pin_")) << after;
  EXPECT_EQ(after.find(','), std::string::npos) << after;
  EXPECT_NE(after, before);
  EXPECT_EQ(old_db().query("select k from gen where v = 'after'"), "1");
  EXPECT_EQ(TwoClusters::new_db().query(kAllRows), old_db().query(kAllRows));
}

TEST_F(DefaultsTest, EightClientsOnPreparedStatementsLeaveBothIdentical) {
  constexpr int kClients = 8;
  constexpr int kRounds = 30;
  auto run_client = [&](int i) {
    Connection c = connect_proxy();
    prepare(c, "ins", "insert into gen (v) values ($1)");
    prepare(c, "touch", "update gen set updated_at = now() where v = $1");
    for (int k = 0; k < kRounds; ++k) {
      const std::string tag = std::to_string(i) + "-" + std::to_string(k);
      run_extended(c, "", {tag}, "ins");
      run_extended(c, "", {tag}, "touch");
    }
  };
  std::vector<std::thread> clients;
  for (int i = 0; i < kClients; ++i) {
    clients.emplace_back([&, i] {
      try {
        run_client(i);
      } catch (const std::exception& e) {
        ADD_FAILURE() << "client " << i << ": " << e.what();
      }
    });
  }
  for (auto& client : clients) client.join();
  EXPECT_EQ(old_db().query("select count(*) from gen where updated_at is not null"),
            std::to_string(kClients * kRounds));
  EXPECT_TRUE(TwoClusters::new_db().query(kAllRows) == old_db().query(kAllRows));
  EXPECT_EQ(mismatches_after_sentinel().size(), 1u);
}

// The extended protocol's unsafe writes are refused before old runs them too: the client
// sees its batch fail with 0A000 and the session goes on, its next statements prepared and
// pinned as ever. Allowed, they are reported.
TEST_F(DefaultsTest, WhatTheExtendedProtocolCannotPinIsRefusedUnlessAllowed) {
  differs_on_purpose_ = true;  // allowed, the unsafe write stores its own values on each
  Connection c = connect_proxy();
  for (const char* sql :
       {"insert into gen (v) values (random()::text)", "insert into gen (v) select $1"}) {
    PGresult* result = PQexecParams(c.get(), sql, 0, nullptr, nullptr, nullptr, nullptr, 0);
    EXPECT_EQ(PQresultStatus(result), PGRES_FATAL_ERROR) << sql;
    EXPECT_STREQ(PQresultErrorField(result, PG_DIAG_SQLSTATE), "0A000") << sql;
    PQclear(result);
  }
  prepare(c, "ins", "insert into gen (v) values ($1)");
  run_extended(c, "", {"after the refusals"}, "ins");
  run_extended(c, "insert into gen (v) values ($1)", {"unnamed"});
  EXPECT_EQ(old_db().query("select v from gen order by v"), "after the refusals\nunnamed");
  EXPECT_EQ(every_row(TwoClusters::new_db()), every_row(old_db()));

  start_routing(0, "  read_your_writes_ms: 0\n  mirror: { unsafe_writes: allow }\n");
  Connection allowed = connect_proxy();
  run_extended(allowed, "insert into gen (v) values (random()::text)", {});
  run_extended(allowed, "insert into gen (v) select $1", {"insert ... select"});
  const std::string log = proxy_->log();
  EXPECT_NE(log.find("\"calls\":\"random()\""), std::string::npos) << log;
  EXPECT_NE(log.find("\"calls\":\"defaults of gen\""), std::string::npos) << log;
}

TEST_F(DefaultsTest, NewsSequencesAreKeptAheadSoInsertsThereMeetNoDuplicateKey) {
  differs_on_purpose_ = true;  // writes straight into new
  constexpr char kOnNew[] = "insert into gen (v) values ('on new, after a switch')";
  constexpr char kLastValues[] =
      "select last_value from gen_id_seq union all select last_value from gen_ident_seq "
      "union all select last_value from gen_by_default_seq";
  // Without the keeper: old's keys reach new explicitly and new's sequences stand still.
  start_routing(0, "  mirror: { sequence_sync_ms: 0 }\n");
  Connection c = connect_proxy();
  for (int i = 0; i < 30; ++i) c.exec("insert into gen (v) values ('through cutover')");
  EXPECT_EQ(TwoClusters::new_db().query(kLastValues), "1\n1\n1");
  try {
    TwoClusters::new_db().query(kOnNew);
    ADD_FAILURE() << "new handed out a key old had already given";
  } catch (const std::exception& e) {
    EXPECT_NE(std::string(e.what()).find("duplicate key"), std::string::npos) << e.what();
  }
  // With it, each of new's sequences moves to old's last value + the margin.
  start_routing(0, "  mirror: { sequence_margin: 100, sequence_sync_ms: 100 }\n");
  connect_proxy().exec("insert into gen (v) values ('a login tells the keeper the database')");
  ASSERT_TRUE(
      wait_until([&] { return TwoClusters::new_db().query(kLastValues) == "131\n131\n131"; },
                 std::chrono::seconds(10)))
      << TwoClusters::new_db().query(kLastValues) << "\n"
      << proxy_->log();
  EXPECT_EQ(old_db().query(kLastValues), "31\n31\n31");
  EXPECT_NE(proxy_->log().find("\"event\":\"sequences_advanced\""), std::string::npos);
  for (int i = 0; i < 5; ++i) TwoClusters::new_db().query(kOnNew);
  EXPECT_EQ(TwoClusters::new_db().query("select min(id) from gen where v like 'on new%'"), "132");
}

}  // namespace
}  // namespace cutover::testing
