// The journal side of a mirrored transaction against a real journal in a temporary directory:
// what is written when old commits a transaction new missed part of, what is not, and the
// errors that keep a commit from being acknowledged. The same over real servers and drivers:
// JournalReplayTest, MirrorTest.
#include "proxy/mirror/mirrored_transaction.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <string>

#include "proxy/mirror/session_error.h"
#include "tests/proxy/run_to_completion.h"

namespace cutover::proxy {
namespace {

class MirroredTransactionTest : public ::testing::Test {
 protected:
  MirroredTransactionTest()
      : dir_(std::filesystem::temp_directory_path() /
             ("cutover-mt-" + std::to_string(::getpid()) + "-" +
              ::testing::UnitTest::GetInstance()->current_test_info()->name())),
        config_(parse_config("auth: { method: trust, trust_addresses: [127.0.0.1/32] }\n"
                             "verify: { journal_dir: " +
                             dir_.string() + " }\n")),
        divergences_(dir_ / "divergences.jsonl"),
        journal_(std::make_unique<MirrorJournal>(config_, divergences_)) {}
  ~MirroredTransactionTest() override {
    journal_.reset();
    std::filesystem::remove_all(dir_);
  }
  std::vector<verify::JournalRecord> records() const { return verify::read_journal(dir_).records; }
  static SessionStateLog state(const std::string& unit) {
    SessionStateLog log;
    log.record(unit);
    return log;
  }

  std::filesystem::path dir_;
  Config config_;
  DivergenceLedger divergences_;
  std::unique_ptr<MirrorJournal> journal_;
  std::string database_ = "app";
  std::string user_ = "alice";
  MirroredTransaction transaction_{journal_.get(), 7, database_, user_};
};

TEST_F(MirroredTransactionTest, ACommitNewMayHaveAppliedIsJournaledWithItsIdAndSessionState) {
  EXPECT_FALSE(run_to_completion(transaction_.join(11, false)));  // new is live: not journaled
  transaction_.keep("BEGIN;");
  transaction_.note(MirrorOutcome::kApplied, 11);
  transaction_.set_new_transaction_id(4242);
  transaction_.keep("UPDATE t SET v = 1;");
  transaction_.note(MirrorOutcome::kUncertain, 12);  // new's answer to COMMIT was lost
  transaction_.reserve(true);
  EXPECT_FALSE(run_to_completion(transaction_.settle(true, state("SET search_path = app;"))));
  const auto written = records();
  ASSERT_EQ(written.size(), 1u);
  EXPECT_EQ(written[0].outcome, verify::JournalRecord::Outcome::kMayHaveApplied);
  EXPECT_EQ(written[0].mirror_transaction_id, 4242u);
  EXPECT_EQ(written[0].fingerprint, 12u);  // the first unit new missed
  EXPECT_EQ(written[0].connection_id, 7u);
  EXPECT_EQ(written[0].database, "app");
  EXPECT_EQ(written[0].user, "alice");
  EXPECT_EQ(written[0].unit, "SET search_path = app;BEGIN;UPDATE t SET v = 1;");
}

TEST_F(MirroredTransactionTest, NothingIsWrittenWhenNewHasItAllOrOldRolledBack) {
  run_to_completion(transaction_.join(1, false));
  transaction_.keep("INSERT ...;");
  transaction_.note(MirrorOutcome::kApplied, 1);
  EXPECT_FALSE(run_to_completion(transaction_.settle(true, state(""))));  // new applied everything
  run_to_completion(transaction_.join(2, false));
  transaction_.keep("INSERT ...;");
  transaction_.note(MirrorOutcome::kNotApplied, 2);
  EXPECT_FALSE(run_to_completion(transaction_.settle(false, state(""))));  // old did not commit it
  EXPECT_TRUE(records().empty());
}

TEST_F(MirroredTransactionTest, ATransactionTooLargeToJournalIsAnError) {
  run_to_completion(transaction_.join(1, false));
  transaction_.note(MirrorOutcome::kNotApplied, 1);
  const std::string megabyte(size_t{1} << 20, 'x');
  for (int i = 0; i < 65; ++i) transaction_.keep(megabyte);
  const ErrorCode failed = run_to_completion(transaction_.settle(true, state("")));
  EXPECT_EQ(failed, make_error_code(SessionError::kTransactionTooLarge));
  EXPECT_EQ(sqlstate_of(failed), "08007");
  EXPECT_TRUE(records().empty());
  // The next transaction starts clean.
  run_to_completion(transaction_.join(2, false));
  transaction_.keep("INSERT ...;");
  transaction_.note(MirrorOutcome::kNotApplied, 2);
  EXPECT_FALSE(run_to_completion(transaction_.settle(true, state(""))));
  ASSERT_EQ(records().size(), 1u);
  EXPECT_EQ(records()[0].unit, "INSERT ...;");
}

TEST_F(MirroredTransactionTest, OnceNewIsBehindTransactionsAreJournaledWhole) {
  run_to_completion(transaction_.join(1, false));
  transaction_.note(MirrorOutcome::kNotApplied, 1);  // new is behind from here on
  transaction_.keep("DELETE ...;");
  EXPECT_FALSE(run_to_completion(transaction_.settle(true, state(""))));
  EXPECT_TRUE(
      run_to_completion(transaction_.join(2, false)));  // a new transaction: journaled whole
  EXPECT_FALSE(run_to_completion(transaction_.join(2, true)));  // its later units: decided already
  transaction_.keep("UPDATE ...;");
  EXPECT_FALSE(run_to_completion(transaction_.settle(true, state(""))));
  const auto written = records();
  ASSERT_EQ(written.size(), 2u);
  EXPECT_EQ(written[1].outcome, verify::JournalRecord::Outcome::kDidNotApply);
  EXPECT_EQ(written[1].unit, "UPDATE ...;");
}

// A transaction new missed part of is journaled before old is asked to commit it. With old's id
// for it, what old did is kept in memory (replay asks old after a crash); without, and when the
// transaction goes on after all, a marker on disk says it.
TEST_F(MirroredTransactionTest, AnIntentIsWrittenBeforeTheCommitAndMarkedOnlyWhereOldCannotTell) {
  using Outcome = verify::JournalRecord::Outcome;
  run_to_completion(transaction_.join(1, false));
  transaction_.keep("BEGIN;INSERT ...;");
  transaction_.note(MirrorOutcome::kNotApplied, 1);
  EXPECT_TRUE(transaction_.owes_journal());
  transaction_.set_source_transaction_id(99);
  EXPECT_FALSE(run_to_completion(transaction_.write_intent("COMMIT;", state("SET a = 1;"))));
  auto written = records();
  ASSERT_EQ(written.size(), 1u);  // before old's COMMIT
  EXPECT_TRUE(written[0].intent);
  EXPECT_EQ(written[0].source_transaction_id, 99u);
  EXPECT_EQ(written[0].unit, "SET a = 1;BEGIN;INSERT ...;COMMIT;");
  EXPECT_FALSE(run_to_completion(transaction_.settle(true, state(""))));
  EXPECT_EQ(records().size(), 1u);  // old's id tells: no marker
  // Without old's id: a marker.
  run_to_completion(transaction_.join(2, false));
  transaction_.note(MirrorOutcome::kNotApplied, 2);
  EXPECT_FALSE(run_to_completion(transaction_.write_intent("INSERT ...;", state(""))));
  EXPECT_FALSE(run_to_completion(transaction_.settle(false, state(""))));
  // The transaction goes on after a unit that could have committed it: a marker says no.
  run_to_completion(transaction_.join(3, false));
  transaction_.note(MirrorOutcome::kNotApplied, 3);
  transaction_.set_source_transaction_id(77);
  EXPECT_FALSE(run_to_completion(transaction_.write_intent("SAVEPOINT s;", state(""))));
  run_to_completion(transaction_.still_open());
  written = records();
  ASSERT_EQ(written.size(), 5u);
  EXPECT_EQ(written[2].outcome, Outcome::kSkip);
  EXPECT_EQ(written[2].resolves, written[1].sequence);
  EXPECT_EQ(written[4].outcome, Outcome::kSkip);
  EXPECT_EQ(written[4].resolves, written[3].sequence);
  EXPECT_FALSE(run_to_completion(transaction_.settle(false, state(""))));  // rolled back at last
}

TEST_F(MirroredTransactionTest, ATransactionTooLargeToJournalIsRefusedBeforeItsCommit) {
  run_to_completion(transaction_.join(1, false));
  transaction_.note(MirrorOutcome::kNotApplied, 1);
  const std::string megabyte(size_t{1} << 20, 'x');
  for (int i = 0; i < 64; ++i) transaction_.keep(megabyte);
  const std::string committing = "COMMIT;" + megabyte;  // past the 64 MB a record may hold
  const ErrorCode failed = run_to_completion(transaction_.write_intent(committing, state("")));
  EXPECT_EQ(failed, make_error_code(SessionError::kTransactionTooLarge));
  EXPECT_FALSE(run_to_completion(transaction_.settle(false, state(""))));  // the refused commit
  EXPECT_TRUE(records().empty());
}

}  // namespace
}  // namespace cutover::proxy
