// Mirroring COPY FROM STDIN (streamed to old, run on new once old answered; too large to
// mirror: stopped on old too) and shadow reads (a read also run on the other side, in both
// protocols and at both ends of the ramp, and compared), against the real clusters.
#include <algorithm>
#include <atomic>
#include <fstream>
#include <thread>
#include <vector>

#include "protocol/frontend.h"
#include "tests/proxy/mirror_fixture.h"
#include "verify/journal.h"

namespace cutover::testing {
namespace {

// COPY FROM STDIN: old takes the data as it streams in, new runs the same copy once old has
// answered; a copy old refuses, or one rolled back with its transaction, reaches neither.
TEST_F(MirrorTest, CopyFromStdinIsMirrored) {
  Connection c = connect_proxy();
  std::string data;
  for (int id = 1; id <= 2000; ++id)
    data += std::to_string(id) + "\tcopied " + std::to_string(id) + "\n";
  EXPECT_EQ(c.copy_in("copy mirrored from stdin", data), "COPY 2000");
  EXPECT_EQ(PQtransactionStatus(c.get()), PQTRANS_IDLE);
  const std::string summary =
      "select count(*) || ' ' || md5(string_agg(v, ',' order by id)) from mirrored";
  EXPECT_EQ(old_db().query(summary), TwoClusters::new_db().query(summary));
  EXPECT_EQ(TwoClusters::new_db().query("select count(*) from mirrored"), "2000");
  c.exec("begin");
  EXPECT_EQ(c.copy_in("copy mirrored from stdin", "3001\tundone\n"), "COPY 1");
  c.exec("rollback");
  EXPECT_EQ(c.copy_in("copy mirrored from stdin", "1\tduplicate\n"),
            "error 23505");  // old refuses it
  EXPECT_EQ(c.copy_in("copy mirrored from stdin", "4001\tabandoned\n", "the client gave up"),
            "error 57014");
  for (PgCluster* db : {&old_db(), &TwoClusters::new_db()}) {
    EXPECT_EQ(db->query("select count(*) from mirrored"), "2000") << db->name();
  }
  // A COPY old refuses before any data, then one through the extended protocol (refused
  // before old runs it), which must not be taken for the refused one's data.
  EXPECT_EQ(c.copy_in("copy no_such_table from stdin", "1\tnever sent\n"), "error 42P01");
  EXPECT_EQ(c.copy_in("copy mirrored from stdin", "4500\textended\n", nullptr, true),
            "error 0A000");
  for (PgCluster* db : {&old_db(), &TwoClusters::new_db()}) {
    EXPECT_EQ(db->query("select count(*) from mirrored where id = 4500"), "0") << db->name();
  }
  EXPECT_NE(proxy_->log().find("\"reason\":\"copies\""), std::string::npos);
  c.exec("insert into mirrored values (5001, 'after the copies')");  // the session goes on
  EXPECT_EQ(TwoClusters::new_db().query("select v from mirrored where id = 5001"),
            "after the copies");
  EXPECT_EQ(proxy_->log().find("mirror_failed"), std::string::npos) << proxy_->log();
}

// shadow_reads_percent: reads old answers also run on new, and the comparator reports a read
// whose rows differ there (marked as a shadow read); the client sees old's rows only.
// A client that sends a COPY's data and its CopyDone without waiting for the server's
// CopyInResponse (as asyncpg does) ends the COPY where it says: what it sends next is a unit
// of its own, mirrored as any other, not more data passed to old.
TEST_F(MirrorTest, ACopysDataSentAheadOfTheServersAnswerEndsWhereTheClientEndsIt) {
  RawClient client(proxy_->port());
  ASSERT_NE(raw_login(client).find('Z'), std::string::npos);
  std::string copy;
  protocol::encode(protocol::Query{.sql = "copy mirrored from stdin"}, copy);
  protocol::encode(protocol::CopyData{.data = "1\tsent ahead\n"}, copy);
  protocol::encode(protocol::CopyDone{}, copy);
  auto until_ready = [&] {
    std::string types;
    while (auto m = read_message(client)) {
      types += m->type;
      if (m->type == 'Z') break;
    }
    return types;
  };
  client.send(copy);
  EXPECT_EQ(until_ready(), "GCZ");
  std::string insert;
  protocol::encode(protocol::Query{.sql = "insert into mirrored values (2, 'after the copy')"},
                   insert);
  client.send(insert);
  EXPECT_EQ(until_ready(), "CZ");
  EXPECT_EQ(rows(TwoClusters::new_db()), "1\tsent ahead\n2\tafter the copy");
}

TEST_F(MirrorTest, ShadowReadsCompareWhatOldAndNewReturn) {
  start_shadowing_with_drift(0);
  Connection c = connect_proxy();
  EXPECT_EQ(c.query_value("select v from mirrored where id = 1"), "same");
  const std::string differing = "select v from mirrored where id = 2";
  EXPECT_EQ(c.query_value(differing), "old");
  // Each server names its own port: a last mismatch, after which every pair before it is in.
  EXPECT_EQ(c.query_value(kWhichServer), old_port());
  const auto lines = mismatches_through(*proxy_, kWhichServer);
  ASSERT_EQ(lines.size(), 2u);  // the read of row 1 matched
  EXPECT_NE(lines[0].find("\"fingerprint\":\"" + proxy_log_hex(differing) + "\""),
            std::string::npos)
      << lines[0];
  EXPECT_NE(lines[0].find("\"kind\":\"rows\",\"shadow_read\":true"), std::string::npos) << lines[0];
  EXPECT_NE(proxy_->log().find("shadow_read_mismatch"), std::string::npos);
}

// The same through the extended protocol: an unnamed statement with a parameter, and a named
// one prepared on old alone before, which new gets prepared ahead of the shadow read.
TEST_F(MirrorTest, ShadowReadsInTheExtendedProtocolToo) {
  start_shadowing_with_drift(0);
  Connection c = connect_proxy();
  const std::string by_id = "select v from mirrored where id = $1";
  auto read = [&](const char* id) {
    ResultPtr r(PQexecParams(c.get(), by_id.c_str(), 1, nullptr, &id, nullptr, nullptr, 0),
                &PQclear);
    EXPECT_EQ(PQresultStatus(r.get()), PGRES_TUPLES_OK) << PQerrorMessage(c.get());
    return std::string(PQgetvalue(r.get(), 0, 0));
  };
  EXPECT_EQ(read("1"), "same");
  EXPECT_EQ(read("2"), "old");
  ResultPtr prepared(PQprepare(c.get(), "which", kWhichServer, 0, nullptr), &PQclear);
  ASSERT_EQ(PQresultStatus(prepared.get()), PGRES_COMMAND_OK) << PQerrorMessage(c.get());
  ResultPtr which(PQexecPrepared(c.get(), "which", 0, nullptr, nullptr, nullptr, 0), &PQclear);
  ASSERT_EQ(PQresultStatus(which.get()), PGRES_TUPLES_OK) << PQerrorMessage(c.get());
  EXPECT_EQ(PQgetvalue(which.get(), 0, 0), old_port());
  const auto lines = mismatches_through(*proxy_, kWhichServer);
  ASSERT_EQ(lines.size(), 2u);  // the read of row 1 matched
  EXPECT_NE(lines[0].find("\"fingerprint\":\"" + proxy_log_hex(by_id) + "\""), std::string::npos)
      << lines[0];
  EXPECT_NE(lines[0].find("\"kind\":\"rows\",\"shadow_read\":true"), std::string::npos) << lines[0];
}

// At ramp 100 reads are answered by new; sampled ones run on old too, whose answer the client
// never sees, and the comparator gets both.
TEST_F(MirrorTest, ReadsRoutedToNewAreShadowedOnOld) {
  start_shadowing_with_drift(100);
  Connection c = connect_proxy();
  EXPECT_EQ(c.query_value("select v from mirrored where id = 1"), "same");
  const std::string differing = "select v from mirrored where id = 2";
  EXPECT_EQ(c.query_value(differing), "new drifted");
  const std::string by_id = "select v from mirrored where id = $1";
  const char* id = "2";
  ResultPtr r(PQexecParams(c.get(), by_id.c_str(), 1, nullptr, &id, nullptr, nullptr, 0), &PQclear);
  ASSERT_EQ(PQresultStatus(r.get()), PGRES_TUPLES_OK) << PQerrorMessage(c.get());
  EXPECT_STREQ(PQgetvalue(r.get(), 0, 0), "new drifted");
  EXPECT_EQ(c.query_value(kWhichServer), new_port());
  const auto lines = mismatches_through(*proxy_, kWhichServer);
  ASSERT_EQ(lines.size(), 3u);  // the read of row 1 matched
  EXPECT_NE(lines[0].find("\"fingerprint\":\"" + proxy_log_hex(differing) + "\""),
            std::string::npos)
      << lines[0];
  EXPECT_NE(lines[0].find("\"kind\":\"rows\",\"shadow_read\":true"), std::string::npos) << lines[0];
  EXPECT_NE(lines[1].find("\"fingerprint\":\"" + proxy_log_hex(by_id) + "\""), std::string::npos)
      << lines[1];
  // The session goes on normally: old owes it nothing.
  EXPECT_EQ(c.query_value("select count(*) from mirrored"), "2");
}

// A COPY larger than cutover keeps for new (64 MB) could neither run on new nor be journaled:
// old is stopped too, the client gets the reason, and neither database has any of it.
TEST_F(MirrorTest, ACopyTooLargeToMirrorIsStoppedOnOldToo) {
  Connection c = connect_proxy();
  std::string data;
  const std::string padding(1000, 'x');
  for (int id = 1; data.size() <= (size_t{66} << 20); ++id) {
    data += std::to_string(id) + "\t" + padding + "\n";
  }
  EXPECT_EQ(c.copy_in("copy mirrored from stdin", data), "error 57014");
  EXPECT_NE(std::string(PQerrorMessage(c.get()))
                .find("COPY from stdin failed: cutover: COPY FROM STDIN of more than 64 MB "
                      "cannot be mirrored to the new database yet; send the data in smaller COPYs"),
            std::string::npos)
      << PQerrorMessage(c.get());
  c.exec("begin");
  c.exec("insert into mirrored values (0, 'in the transaction')");
  EXPECT_EQ(c.copy_in("copy mirrored from stdin", data), "error 57014");
  EXPECT_EQ(PQtransactionStatus(c.get()), PQTRANS_INERROR);
  c.exec("rollback");
  for (PgCluster* db : {&old_db(), &TwoClusters::new_db()}) {
    EXPECT_EQ(db->query("select count(*) from mirrored"), "0") << db->name();
  }
  EXPECT_NE(proxy_->log().find("\"event\":\"mirror_copy_refused\""), std::string::npos);
  c.exec("insert into mirrored values (1, 'after')");  // the session goes on
  EXPECT_EQ(TwoClusters::new_db().query("select v from mirrored"), "after");
}

}  // namespace
}  // namespace cutover::testing
