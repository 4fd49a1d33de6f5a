// The ledger of open divergences on its own: what it keeps, that a restart reads it all back,
// and that a repeated difference does not grow the file.
#include "proxy/migration/divergence_ledger.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>
#include <iterator>

namespace cutover::proxy {
namespace {

class DivergenceLedgerTest : public ::testing::Test {
 protected:
  DivergenceLedgerTest()
      : dir_(std::filesystem::temp_directory_path() /
             ("cutover-ledger-" + std::to_string(::getpid()) + "-" +
              ::testing::UnitTest::GetInstance()->current_test_info()->name())),
        file_(dir_ / "data" / "divergences.jsonl") {}
  ~DivergenceLedgerTest() override { std::filesystem::remove_all(dir_); }

  size_t lines() const {
    std::ifstream in(file_);
    return static_cast<size_t>(
        std::count(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>(), '\n'));
  }

  std::filesystem::path dir_;
  std::filesystem::path file_;
};

TEST_F(DivergenceLedgerTest, WhatIsOpenedIsThereAfterARestart) {
  {
    DivergenceLedger ledger(file_);
    EXPECT_EQ(ledger.open({.kind = "mismatch", .table = "public.t", .fingerprint = 0xabc}), 1u);
    EXPECT_EQ(ledger.open({.kind = "journal_refused",
                           .table = "app.orders",
                           .keys = {"(id)=('7')", "(id)=('8')"},
                           .fingerprint = 0x123,
                           .detail = "23505: duplicate key"}),
              2u);
  }
  const DivergenceLedger again(file_);
  const std::vector<Divergence> items = again.open_items();
  ASSERT_EQ(items.size(), 2u);
  EXPECT_EQ(items[0].id, 1u);
  EXPECT_EQ(items[0].kind, "mismatch");
  EXPECT_EQ(items[0].table, "public.t");
  EXPECT_EQ(items[0].fingerprint, 0xabcu);
  EXPECT_GT(items[0].since_unix_ms, 0);
  EXPECT_EQ(items[1].keys, (std::vector<std::string>{"(id)=('7')", "(id)=('8')"}));
  EXPECT_EQ(items[1].detail, "23505: duplicate key");
  EXPECT_EQ(again.tables(), (std::vector<std::string>{"app.orders", "public.t"}));
}

TEST_F(DivergenceLedgerTest, ARepeatedDifferenceIsCountedNotWrittenAgain) {
  DivergenceLedger ledger(file_);
  const Divergence mismatch{.kind = "mismatch", .table = "public.t", .fingerprint = 0xabc};
  EXPECT_EQ(ledger.open(mismatch), 1u);
  EXPECT_EQ(ledger.open(mismatch), 1u);
  EXPECT_EQ(ledger.open(mismatch), 1u);
  EXPECT_EQ(ledger.open({.kind = "mismatch", .table = "public.u", .fingerprint = 0xabc}), 2u);
  EXPECT_EQ(lines(), 2u);
  EXPECT_EQ(ledger.open_count(), 2u);
  EXPECT_EQ(ledger.open_items()[0].occurrences, 3u);
  // After a restart the same difference is still the same open item.
  const DivergenceLedger reopened(file_);
  EXPECT_EQ(reopened.open_count(), 2u);
}

// A crash in the middle of a write leaves a torn last line: what came before is all there, and
// the next item gets a fresh id.
TEST_F(DivergenceLedgerTest, ATornLastLineIsSkipped) {
  {
    DivergenceLedger ledger(file_);
    ledger.open({.kind = "mismatch", .table = "public.t", .fingerprint = 1});
  }
  std::ofstream(file_, std::ios::app) << R"({"op":"open","id":2,"kind":"mism)";
  DivergenceLedger ledger(file_);
  EXPECT_EQ(ledger.open_count(), 1u);
  // The torn line stays; the next record starts on a line of its own.
  EXPECT_EQ(ledger.open({.kind = "journal_corrupt", .detail = "segment 3"}), 2u);
  const DivergenceLedger reopened(file_);
  EXPECT_EQ(reopened.open_count(), 2u);
}

// Verification closes what it proved equal: closed items stay closed after a restart, and the
// same difference found again is a new item.
TEST_F(DivergenceLedgerTest, WhatIsClosedStaysClosedAfterARestart) {
  {
    DivergenceLedger ledger(file_);
    ledger.open({.kind = "mismatch", .table = "public.t", .fingerprint = 1});
    ledger.open({.kind = "mismatch", .table = "public.u", .fingerprint = 1});
    EXPECT_EQ(ledger.close_if([](const Divergence& d) { return d.table == "public.t"; },
                              "verified equal"),
              1u);
    EXPECT_EQ(ledger.close_if([](const Divergence&) { return false; }, "nothing"), 0u);
  }
  DivergenceLedger ledger(file_);
  ASSERT_EQ(ledger.open_count(), 1u);
  EXPECT_EQ(ledger.open_items()[0].table, "public.u");
  EXPECT_EQ(ledger.open({.kind = "mismatch", .table = "public.t", .fingerprint = 1}), 3u);
  EXPECT_EQ(lines(), 4u);
}

}  // namespace
}  // namespace cutover::proxy
