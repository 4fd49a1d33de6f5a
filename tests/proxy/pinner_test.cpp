// The pinner against a fake source of truth: which questions it asks old, what it makes of
// the answers, and what it reports when old cannot answer. The real-server side of pinning is
// DefaultsTest and MirrorTest (both databases compared after real drivers wrote).
#include "proxy/mirror/pinner.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <functional>
#include <limits>

#include "protocol/backend.h"
#include "protocol/framing.h"
#include "protocol/frontend.h"
#include "router/classify.h"
#include "router/extended.h"
#include "tests/proxy/run_to_completion.h"

namespace cutover::proxy {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

// What old's catalog says of t(id serial, v integer, at timestamptz DEFAULT now(),
// u uuid DEFAULT gen_random_uuid()): the columns the pinner's catalog query returns.
std::vector<std::string> catalog_rows() {
  auto row = [](std::string name, std::string type, std::string fallback) {
    std::string out;
    protocol::encode(protocol::DataRow{.columns = {name, type, "", "false", fallback, "false"}},
                     out);
    return out.substr(5);  // the body: DataRows are kept without type and length
  };
  return {row("id", "integer", "nextval('t_id_seq'::regclass)"), row("v", "integer", ""),
          row("at", "timestamp with time zone", "now()"), row("u", "uuid", "gen_random_uuid()")};
}

HeldAnswer rows_answer(const std::vector<std::optional<std::string>>& values) {
  HeldAnswer answer;
  for (const auto& value : values) {
    std::string out;
    protocol::encode(protocol::DataRow{.columns = {value}}, out);
    answer.data_rows.push_back(out.substr(5));
  }
  return answer;
}

// Answers the catalog query with catalog_rows() and the evaluation of defaults with
// consecutive keys and a fixed uuid, and records every question.
class FakeOld final : public SourceOfTruth {
 public:
  char transaction_status() const override { return status; }
  asio::awaitable<std::optional<HeldAnswer>> query_own(std::string_view sql) override {
    queries.emplace_back(sql);
    if (!answers) co_return std::nullopt;  // the connection failed
    if (sql.find("pg_catalog.pg_attribute") != std::string_view::npos) {
      HeldAnswer answer;
      answer.data_rows = catalog_rows();
      co_return answer;
    }
    // The evaluation: one value per expression, in order (nextval, then gen_random_uuid).
    co_return rows_answer({std::to_string(++next_key), "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"});
  }
  asio::awaitable<bool> run_own(std::string_view messages) override {
    runs.emplace_back(messages);
    co_return true;
  }

  char status = 'I';
  bool answers = true;
  int next_key = 41;
  std::vector<std::string> queries;
  std::vector<std::string> runs;
};

// The messages of a batch, each as its type letter and decoded body.
std::vector<protocol::FrontendMessage> messages_of(std::string_view batch) {
  std::vector<protocol::FrontendMessage> out;
  for (;;) {
    auto frame = protocol::next_frame(batch, std::numeric_limits<size_t>::max());
    if (frame.status != protocol::FrameStatus::kFrame) return out;
    auto decoded = protocol::decode_frontend(frame.type, frame.body);
    EXPECT_TRUE(decoded.has_value());
    if (decoded) out.push_back(*decoded);
    batch.remove_prefix(frame.consumed);
  }
}

std::vector<std::string> parsed_names(std::string_view batch) {
  std::vector<std::string> names;
  for (const auto& m : messages_of(batch)) {
    if (const auto* parse = std::get_if<protocol::Parse>(&m)) names.push_back(parse->statement);
  }
  return names;
}

class PinnerTest : public ::testing::Test {
 protected:
  router::Classification unit(std::string_view sql) { return cache.classify(sql); }
  router::BatchPlan plan(const std::string& batch) {
    return statements.plan(batch, [this](std::string_view sql) -> const router::Classification& {
      return cache.classify(sql);
    });
  }
  static std::string insert_batch() {
    std::string out;
    protocol::encode(protocol::Parse{.query = "INSERT INTO t(v) VALUES ($1)"}, out);
    protocol::encode(protocol::Bind{.parameters = {"7"}}, out);
    protocol::encode(protocol::Execute{}, out);
    protocol::encode(protocol::Sync{}, out);
    return out;
  }

  FakeOld old;
  std::atomic<uint64_t> schema_version{1};
  Pinner pinner{old, schema_version, 1};
  router::Classifier classifier;
  router::ClassificationCache cache{classifier, 100};
  router::PreparedStatements statements;
};

TEST_F(PinnerTest, DifferingDefaultsAreEvaluatedOnOldAndWrittenIntoTheInsert) {
  const std::string sql = "INSERT INTO t(v) VALUES (1)";
  pinner.start_unit();
  const std::string pinned = run_to_completion(pinner.pin_defaults(sql, unit(sql)));
  // Every differing default named; the time-only one gets cutover's instant, no query.
  EXPECT_THAT(pinned,
              ::testing::MatchesRegex(
                  "INSERT INTO t\\(v, \"id\", \"at\", \"u\"\\) VALUES \\(1, "
                  "CAST\\('42' AS integer\\), \\(CAST\\('[-0-9 :.]+\\+00' AS timestamptz\\)\\), "
                  "CAST\\('a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11' AS uuid\\)\\)"));
  EXPECT_FALSE(pinner.unpinned());
  ASSERT_EQ(old.queries.size(), 2u);  // the catalog, then one evaluation of both defaults
  EXPECT_THAT(old.queries[1], HasSubstr("nextval('t_id_seq'::regclass)"));

  // The table's columns are cached: the next INSERT asks old only for its values.
  const std::string again = run_to_completion(pinner.pin_defaults(sql, unit(sql)));
  EXPECT_THAT(again, HasSubstr("CAST('43' AS integer)"));
  EXPECT_EQ(old.queries.size(), 3u);

  // DDL anywhere makes the cache stale: the catalog is read again.
  ++schema_version;
  run_to_completion(pinner.pin_defaults(sql, unit(sql)));
  EXPECT_EQ(old.queries.size(), 5u);
}

TEST_F(PinnerTest, WhenOldCannotAnswerTheUnitIsReportedUnpinned) {
  old.answers = false;
  const std::string sql = "INSERT INTO t(v) VALUES (1)";
  pinner.start_unit();
  EXPECT_EQ(run_to_completion(pinner.pin_defaults(sql, unit(sql))), "");
  EXPECT_TRUE(pinner.unpinned());
  pinner.start_unit();  // the next unit starts clean
  EXPECT_FALSE(pinner.unpinned());
}

TEST_F(PinnerTest, OneInstantPerTransactionAndNoneForWhatCannotBePinned) {
  const std::string sql = "UPDATE t SET at = now()";
  old.status = 'T';
  pinner.start_unit();
  const std::string first = pinner.pin_text(sql, unit(sql));
  EXPECT_THAT(first, Not(HasSubstr("now()")));
  pinner.start_unit();  // inside the same transaction: the same instant
  EXPECT_EQ(pinner.pin_text(sql, unit(sql)), first);
  EXPECT_FALSE(pinner.unpinned());

  const std::string random = "UPDATE t SET v = random()";
  pinner.start_unit();
  EXPECT_EQ(pinner.pin_text(random, unit(random)), "");
  EXPECT_TRUE(pinner.unpinned());
}

TEST_F(PinnerTest, NothingIsPinnedWithoutStandardConformingStrings) {
  pinner.set_standard_strings(false);
  const std::string sql = "INSERT INTO t(v) VALUES (1)";
  pinner.start_unit();
  EXPECT_EQ(run_to_completion(pinner.pin_defaults(sql, unit(sql))), "");
  const std::string batch = insert_batch();
  EXPECT_FALSE(run_to_completion(pinner.pin_batch(batch, plan(batch))).has_value());
  EXPECT_TRUE(pinner.unpinned());
  EXPECT_TRUE(old.queries.empty());
}

TEST_F(PinnerTest, AnExtendedInsertIsRebound_PreparedOncePerSide_AndAgainAfterARoleSwitch) {
  const std::string batch = insert_batch();
  pinner.start_unit();
  auto pinned = run_to_completion(pinner.pin_batch(batch, plan(batch)));
  ASSERT_TRUE(pinned.has_value());
  // Both sides get cutover's statement parsed in front of its Bind, with the values appended.
  EXPECT_EQ(parsed_names(pinned->for_old), (std::vector<std::string>{"", "cutover_pin_1"}));
  EXPECT_EQ(parsed_names(pinned->for_new), (std::vector<std::string>{"", "cutover_pin_1"}));
  EXPECT_EQ(pinned->own_parses, std::vector<int>{1});
  for (const auto& m : messages_of(pinned->for_old)) {
    if (const auto* bind = std::get_if<protocol::Bind>(&m)) {
      EXPECT_EQ(bind->statement, "cutover_pin_1");
      ASSERT_EQ(bind->parameters.size(), 5u);  // $1, two instants, the key, the uuid
      EXPECT_EQ(bind->parameters[0], "7");
      EXPECT_EQ(bind->parameters[3], "42");
    }
  }
  // Old took its Parse (one ParseComplete taken out), new ran the batch: neither gets it again.
  pinner.batch_ran(*pinned, 1, true);
  auto second = run_to_completion(pinner.pin_batch(batch, plan(batch)));
  ASSERT_TRUE(second.has_value());
  EXPECT_EQ(parsed_names(second->for_old), std::vector<std::string>{""});
  EXPECT_EQ(parsed_names(second->for_new), std::vector<std::string>{""});

  // After a fresh connection to the mirror, only the mirror must get it again.
  pinner.statements_lost(false);
  auto third = run_to_completion(pinner.pin_batch(batch, plan(batch)));
  ASSERT_TRUE(third.has_value());
  EXPECT_EQ(parsed_names(third->for_old), std::vector<std::string>{""});
  EXPECT_EQ(parsed_names(third->for_new), (std::vector<std::string>{"", "cutover_pin_1"}));
  // After a role switch cutover's statements are prepared again, under new names (a write by
  // its effect has a text of its own on each side), the old ones closed on both.
  pinner.batch_ran(*third, 0, true);
  pinner.swap_sides();
  auto fourth = run_to_completion(pinner.pin_batch(batch, plan(batch)));
  ASSERT_TRUE(fourth.has_value());
  EXPECT_EQ(parsed_names(fourth->for_old), (std::vector<std::string>{"", "cutover_pin_2"}));
  EXPECT_EQ(parsed_names(fourth->for_new), (std::vector<std::string>{"", "cutover_pin_2"}));
  EXPECT_NE(fourth->for_new.find("Scutover_pin_1"), std::string::npos);  // a Close
}

TEST_F(PinnerTest, ForgottenStatementsAreClosedOnBothSidesBeforeTheNextBatch) {
  const std::string batch = insert_batch();
  pinner.start_unit();
  auto pinned = run_to_completion(pinner.pin_batch(batch, plan(batch)));
  ASSERT_TRUE(pinned.has_value());
  pinner.batch_ran(*pinned, 1, true);
  pinner.settings_changed();  // SET search_path: what the statement names may differ now
  auto next = run_to_completion(pinner.pin_batch(batch, plan(batch)));
  ASSERT_TRUE(next.has_value());
  ASSERT_EQ(old.runs.size(), 1u);  // old: a Close of its own, then Sync
  const auto closes = messages_of(old.runs[0]);
  ASSERT_EQ(closes.size(), 2u);
  EXPECT_EQ(std::get<protocol::Close>(closes[0]).name, "cutover_pin_1");
  const auto to_new = messages_of(next->for_new);  // new: the Close in front of the batch
  ASSERT_FALSE(to_new.empty());
  EXPECT_EQ(std::get<protocol::Close>(to_new[0]).name, "cutover_pin_1");
  EXPECT_EQ(parsed_names(next->for_old), (std::vector<std::string>{"", "cutover_pin_2"}));
}

}  // namespace
}  // namespace cutover::proxy
