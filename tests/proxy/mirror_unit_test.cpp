// The Mirror against a fake old (FakeOld) and a scripted new: what each side is sent for a
// mirrored unit, and what is journaled when new fails at each point. The same against real
// servers and drivers: MirrorTest, JournalReplayTest.
#include <gtest/gtest.h>

#include "proxy/mirror/mirror.h"
#include "proxy/mirror/mirror_messages.h"
#include "tests/proxy/session_parts.h"
#include "verify/journal.h"

namespace cutover::proxy {
namespace {

using Strings = std::vector<std::string>;
using Outcome = verify::JournalRecord::Outcome;

// new as a server that runs what it is sent, except the statements the test makes it refuse
// or die on; its transaction status follows.
struct ScriptedNew {
  std::string refuse{};  // a statement new refuses (23505)
  std::string die_on{};  // a statement at which new's connection drops unanswered
  char status = 'I';

  ScriptedServer::Reply operator()(char type, std::string_view body) {
    if (type != 'Q') return {};
    const std::string sql(sql_of_query(body));
    if (sql == die_on) return {.close = true};
    if (status == 'E' && sql != "ROLLBACK") {
      return {error("25P02", "current transaction is aborted") + ready(status)};
    }
    if (sql == refuse) {
      status = status == 'I' ? 'I' : 'E';
      return {error("23505", "duplicate key value") + ready(status)};
    }
    if (sql == kAskTransactionId)
      return {row("txid", "4242") + complete("SELECT 1") + ready(status)};
    const std::string verb = sql.substr(0, sql.find(' '));
    if (verb == "BEGIN") status = 'T';
    if (verb == "COMMIT" || verb == "ROLLBACK") status = 'I';
    return {complete(verb == "UPDATE" ? "UPDATE 1" : verb) + ready(status)};
  }
};

class MirrorUnitTest : public SessionPartsTest {
 protected:
  // The client's Query, mirrored as the dispatcher hands it over (counted for old first).
  bool query(std::string_view sql) {
    std::string whole;
    append_query(whole, sql);
    const router::Classification unit = context_->classifier.classify(sql);
    ++primary_.pending_replies;
    std::string pending;
    return run(mirror_->query(whole, unit, pending));
  }
};

// Its intent (old's and new's ids for the transaction, should cutover stop between the two
// commits) is written before old's COMMIT; new then has it all: nothing to replay.
TEST_F(MirrorUnitTest, AnAutocommitWriteIsWrappedOnBothSidesWithItsIntentFirst) {
  start_new(ScriptedNew{});
  EXPECT_TRUE(query("UPDATE t SET v = 1 WHERE id = 1"));
  EXPECT_EQ(old_.queries, (Strings{"BEGIN", "UPDATE t SET v = 1 WHERE id = 1",
                                   std::string(kAskTransactionId), "COMMIT"}));
  ASSERT_EQ(old_.key_questions.size(), 1u);  // is id t's key? (the fake does not know t)
  EXPECT_NE(old_.key_questions[0].find("to_regclass('\"t\"')"), std::string::npos);
  EXPECT_EQ(new_server_->queries(), (Strings{"BEGIN", "UPDATE t SET v = 1 WHERE id = 1",
                                             std::string(kAskTransactionId), "COMMIT"}));
  EXPECT_EQ(old_.readies, std::vector<char>{'I'});  // the client sees one unit, idle after it
  const auto records = journal();
  ASSERT_EQ(records.size(), 1u);
  EXPECT_TRUE(records[0].intent);
  EXPECT_EQ(records[0].outcome, Outcome::kMayHaveApplied);
  EXPECT_EQ(records[0].source_transaction_id, 777u);
  EXPECT_EQ(records[0].mirror_transaction_id, 4242u);
}

// New ran the transaction and was sent its COMMIT; whether it committed is unknown once the
// connection drops before the answer. Old committed: the transaction is journaled as
// may-have-applied, with new's transaction id for the check, before the client hears of it.
TEST_F(MirrorUnitTest, NewLostAfterCommitWasSentIsJournaledAsMayHaveAppliedBeforeTheClientIsTold) {
  start_new(ScriptedNew{.die_on = "COMMIT"});
  size_t records_when_told = 0;
  old_.on_ready = [&] { records_when_told = journal().size(); };
  EXPECT_TRUE(query("BEGIN"));
  EXPECT_TRUE(query("UPDATE t SET v = 2 WHERE id = 7"));
  EXPECT_TRUE(query("COMMIT"));
  EXPECT_EQ(old_.queries, (Strings{"BEGIN", "UPDATE t SET v = 2 WHERE id = 7",
                                   std::string(kAskTransactionId), "COMMIT"}));
  EXPECT_EQ(new_server_->queries(), (Strings{"BEGIN", "UPDATE t SET v = 2 WHERE id = 7",
                                             std::string(kAskTransactionId), "COMMIT"}));
  EXPECT_EQ(old_.readies, (std::vector<char>{'T', 'T', 'I'}));
  EXPECT_EQ(records_when_told, 1u);  // durable before old's COMMIT, let alone the client's answer
  const auto records = journal();
  ASSERT_EQ(records.size(), 1u);
  EXPECT_EQ(records[0].outcome, Outcome::kMayHaveApplied);
  EXPECT_EQ(records[0].mirror_transaction_id, 4242u);
  EXPECT_NE(records[0].unit.find("UPDATE t SET v = 2 WHERE id = 7"), std::string::npos);
  EXPECT_FALSE(new_side_->ready());
}

// New refused a write old took: the rest of the transaction stays off new, new rolls back, and
// old's commit journals the whole transaction for replay.
TEST_F(MirrorUnitTest, AWriteNewRefusesKeepsTheRestOffNewAndJournalsTheTransaction) {
  start_new(ScriptedNew{.refuse = "UPDATE t SET v = 3 WHERE id = 1"});
  EXPECT_TRUE(query("BEGIN"));
  EXPECT_TRUE(query("UPDATE t SET v = 3 WHERE id = 1"));
  EXPECT_TRUE(query("UPDATE t SET v = 4 WHERE id = 2"));
  EXPECT_TRUE(query("COMMIT"));
  EXPECT_EQ(new_server_->queries(), (Strings{"BEGIN", "UPDATE t SET v = 3 WHERE id = 1",
                                             std::string(kAskTransactionId), "ROLLBACK"}));
  EXPECT_EQ(old_.readies, (std::vector<char>{'T', 'T', 'T', 'I'}));
  // Old's id for the transaction asked with its first write; journaled before old was asked
  // to commit.
  EXPECT_EQ(old_.queries,
            (Strings{"BEGIN", "UPDATE t SET v = 3 WHERE id = 1", std::string(kAskTransactionId),
                     "UPDATE t SET v = 4 WHERE id = 2", "COMMIT"}));
  const auto records = journal();
  ASSERT_EQ(records.size(), 1u);  // old's id says whether it committed: no marker needed
  EXPECT_TRUE(records[0].intent);
  EXPECT_EQ(records[0].source_transaction_id, 777u);
  EXPECT_EQ(records[0].outcome, Outcome::kDidNotApply);
  EXPECT_NE(records[0].unit.find("UPDATE t SET v = 3 WHERE id = 1"), std::string::npos);
  EXPECT_NE(records[0].unit.find("UPDATE t SET v = 4 WHERE id = 2"), std::string::npos);
  EXPECT_TRUE(new_side_->ready());  // a refusal is the statement's, not the connection's
}

}  // namespace
}  // namespace cutover::proxy
