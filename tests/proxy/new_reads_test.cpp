// Reads on new (NewReads) against a scripted new: what the client gets when new answers, and
// when new fails before (fallback to old, nothing sent) or during its answer. The same against
// real servers and drivers: ReadRoutingTest, ReadFallbackTest.
#include "proxy/session/new_reads.h"

#include <gtest/gtest.h>

#include "protocol/frontend.h"
#include "tests/proxy/session_parts.h"

namespace cutover::proxy {
namespace {

using namespace asio::experimental::awaitable_operators;

constexpr std::string_view kRead = "SELECT v FROM t";

class NewReadsTest : public SessionPartsTest {
 protected:
  // Starts new as `script` plays it; the client's Query is counted for old, as the relay
  // counts it when it arrives.
  void start(ScriptedServer::Script script, std::string_view extra_config = "") {
    start_new(std::move(script), extra_config);
    reads_ = std::make_unique<NewReads>(old_,
                                        NewReads::Parts{.client = *client_,
                                                        .primary = primary_,
                                                        .secondary = secondary_,
                                                        .new_side = *new_side_,
                                                        .mirror = *mirror_},
                                        *context_, *secrets_, 1);
    primary_.pending_replies = 1;
  }
  // The client's read, tried on new while the secondary's watchdog runs beside it.
  NewRead try_read() {
    std::string query;
    protocol::encode(protocol::Query{.sql = std::string(kRead)}, query);
    const router::Classification unit = context_->classifier.classify(kRead);
    const std::function<std::chrono::milliseconds()> shortest = [this] {
      return context_->live.fallback_timeout();
    };
    auto outcome = run(reads_->try_new(query, unit, 0, {}) || new_side_->watch(shortest));
    return std::get<0>(outcome);
  }

  std::unique_ptr<NewReads> reads_;
};

TEST_F(NewReadsTest, NewsAnswerGoesToTheClientAsNewSentIt) {
  const std::string answer = row("v", "42") + complete("SELECT 1") + ready('I');
  start([&](char, std::string_view) { return ScriptedServer::Reply{answer}; });
  EXPECT_EQ(try_read(), NewRead::kAnswered);
  EXPECT_EQ(client_received(), answer);
  EXPECT_EQ(primary_.pending_replies, 0);  // old owes this read nothing
  EXPECT_EQ(new_server_->queries(), std::vector<std::string>{std::string(kRead)});
  EXPECT_TRUE(old_.queries.empty());
}

TEST_F(NewReadsTest, AFallbackSqlstateLeavesTheReadToOldAndNewServesTheNext) {
  int reads = 0;
  const std::string answer = row("v", "42") + complete("SELECT 1") + ready('I');
  start([&](char, std::string_view) {
    if (++reads == 1) return ScriptedServer::Reply{error("42P01", "no t") + ready('I')};
    return ScriptedServer::Reply{answer};
  });
  EXPECT_EQ(try_read(), NewRead::kOnOld);
  EXPECT_EQ(client_received(), "");        // nothing of new's error reached the client
  EXPECT_EQ(primary_.pending_replies, 1);  // old owes the answer now
  EXPECT_TRUE(new_side_->ready());         // 42P01 is the read's, not the connection's
  primary_.pending_replies = 1;            // the next read, counted for old
  EXPECT_EQ(try_read(), NewRead::kAnswered);
  EXPECT_EQ(client_received(), answer);  // not the first read's ReadyForQuery
}

TEST_F(NewReadsTest, ANewThatClosesBeforeAnsweringLeavesTheReadToOldAndIsDropped) {
  start([](char, std::string_view) { return ScriptedServer::Reply{.close = true}; });
  EXPECT_EQ(try_read(), NewRead::kOnOld);
  EXPECT_EQ(client_received(), "");
  EXPECT_EQ(primary_.pending_replies, 1);
  EXPECT_FALSE(new_side_->ready());
}

TEST_F(NewReadsTest, ANewSilentPastTheFallbackTimeoutIsLeftAndDropped) {
  start([](char, std::string_view) { return ScriptedServer::Reply{}; },
        "fallback: { timeout_ms: 100 }");
  EXPECT_EQ(try_read(), NewRead::kOnOld);
  EXPECT_EQ(client_received(), "");
  EXPECT_EQ(primary_.pending_replies, 1);
  EXPECT_FALSE(new_side_->ready());
}

// Once bytes of new's answer went out, old cannot take the read over: the client gets an
// error and a ReadyForQuery, so its session goes on.
TEST_F(NewReadsTest, ANewLostMidAnswerEndsTheAnswerWithAnError) {
  const std::string part = row("v", "42");
  start([&](char, std::string_view) { return ScriptedServer::Reply{part, true}; });
  EXPECT_EQ(try_read(), NewRead::kAnswered);
  EXPECT_EQ(client_received(),
            part + error("08006", "the new database closed the connection during this query") +
                ready('I'));
  EXPECT_FALSE(new_side_->ready());
}

}  // namespace
}  // namespace cutover::proxy
