// The message surgery behind extended-protocol pinning: counting a statement's parameters,
// preparing cutover's statement, and turning the client's Binds into Binds of it.
#include "router/bound_pinning.h"

#include <gtest/gtest.h>

#include "protocol/frontend.h"

namespace cutover::router {
namespace {

using protocol::Bind;

std::string message(const protocol::FrontendMessage& m) {
  std::string out;
  std::visit([&](const auto& concrete) { protocol::encode(concrete, out); }, m);
  return out;
}

std::string body(const std::string& whole) { return whole.substr(5); }

Bind decoded_bind(const std::string& whole) {
  auto decoded = protocol::decode_frontend('B', body(whole));
  EXPECT_TRUE(decoded.has_value());
  return decoded ? std::get<Bind>(*decoded) : Bind{};
}

TEST(BoundPinningTest, TheHighestParameterIsFoundAnywhereInTheTree) {
  EXPECT_EQ(highest_parameter("select 1"), 0u);
  EXPECT_EQ(highest_parameter("insert into t values ($2, $1)"), 2u);
  EXPECT_EQ(highest_parameter("with a as (select $7::int) update t set v = (select * from a)"), 7u);
  EXPECT_EQ(highest_parameter("select '$9', \"$8\", $3 -- $5"), 3u);  // strings, names, comments
  EXPECT_FALSE(highest_parameter("select from where").has_value());
}

TEST(BoundPinningTest, CutoversStatementHasTheClientsTypesThenTextOnes) {
  const std::string parse =
      extended_parse("cutover_pin_1", "insert into t values ($1, $3)", {23}, 2, 3);
  auto decoded = protocol::decode_frontend('P', body(parse));
  ASSERT_TRUE(decoded.has_value());
  const auto& p = std::get<protocol::Parse>(*decoded);
  EXPECT_EQ(p.statement, "cutover_pin_1");
  EXPECT_EQ(p.query, "insert into t values ($1, $3)");
  EXPECT_EQ(p.parameter_types, (std::vector<int32_t>{23, 0, 25, 25, 25}));
}

TEST(BoundPinningTest, ExtraValuesFollowTheClientsInTextFormat) {
  const std::vector<std::optional<std::string>> extra{"2026-11-28 10:00:00+00", std::nullopt};
  // No format codes: all text already.
  auto all_text = extended_bind(
      body(message(
          Bind{.portal = "p", .statement = "s", .parameters = {"1"}, .result_formats = {1}})),
      "pin", 1, extra);
  ASSERT_TRUE(all_text.has_value());
  const Bind text = decoded_bind(*all_text);
  EXPECT_EQ(text.portal, "p");
  EXPECT_EQ(text.statement, "pin");
  EXPECT_TRUE(text.parameter_formats.empty());
  EXPECT_EQ(text.parameters,
            (std::vector<std::optional<std::string>>{"1", "2026-11-28 10:00:00+00", std::nullopt}));
  EXPECT_EQ(text.result_formats, (std::vector<int16_t>{1}));
  // One binary code for all: spelt out, so the extra values can be text.
  auto one_binary = extended_bind(
      body(message(Bind{.parameter_formats = {1}, .parameters = {"ab", "cd"}})), "pin", 2, extra);
  ASSERT_TRUE(one_binary.has_value());
  EXPECT_EQ(decoded_bind(*one_binary).parameter_formats, (std::vector<int16_t>{1, 1, 0, 0}));
  // A code per parameter: text codes appended.
  auto per_parameter =
      extended_bind(body(message(Bind{.parameter_formats = {0, 1}, .parameters = {"ab", "cd"}})),
                    "pin", 2, extra);
  ASSERT_TRUE(per_parameter.has_value());
  EXPECT_EQ(decoded_bind(*per_parameter).parameter_formats, (std::vector<int16_t>{0, 1, 0, 0}));
}

// cutover's statement returning a witness or keys after the client's columns: result format
// codes given per column cover it too (text), else the server refuses the Bind; one code
// applies to every column already.
TEST(BoundPinningTest, ResultFormatsPerColumnCoverAnAddedColumn) {
  const std::vector<std::optional<std::string>> extra{"x"};
  auto per_column = extended_bind(
      body(message(Bind{.parameters = {"1"}, .result_formats = {1, 0}})), "pin", 1, extra, true);
  ASSERT_TRUE(per_column.has_value());
  EXPECT_EQ(decoded_bind(*per_column).result_formats, (std::vector<int16_t>{1, 0, 0}));
  auto one_for_all = extended_bind(body(message(Bind{.parameters = {"1"}, .result_formats = {1}})),
                                   "pin", 1, extra, true);
  ASSERT_TRUE(one_for_all.has_value());
  EXPECT_EQ(decoded_bind(*one_for_all).result_formats, (std::vector<int16_t>{1}));
  auto not_added = extended_bind(body(message(Bind{.parameters = {"1"}, .result_formats = {1, 0}})),
                                 "pin", 1, extra);
  ASSERT_TRUE(not_added.has_value());
  EXPECT_EQ(decoded_bind(*not_added).result_formats, (std::vector<int16_t>{1, 0}));
}

TEST(BoundPinningTest, ABindNotOfTheStatementsCountIsLeftToTheClientsStatement) {
  const std::vector<std::optional<std::string>> extra{"x"};
  EXPECT_FALSE(extended_bind(body(message(Bind{.parameters = {"1"}})), "pin", 2, extra));
  EXPECT_FALSE(
      extended_bind(body(message(Bind{.parameter_formats = {0, 1, 0}, .parameters = {"1", "2"}})),
                    "pin", 2, extra));
  EXPECT_FALSE(extended_bind("\x01", "pin", 0, extra));  // does not decode
}

TEST(BoundPinningTest, MessagesAreReplacedByTheirPlaceInTheBatch) {
  const std::string a = message(protocol::Execute{});
  const std::string b = message(Bind{.parameters = {"1"}});
  const std::string c = message(protocol::Sync{});
  EXPECT_EQ(replace_messages(a + b + c, {{1, "X"}}), a + "X" + c);
  EXPECT_EQ(replace_messages(a + b + c, {{0, "X"}, {2, "YZ"}}), "X" + b + "YZ");
  EXPECT_EQ(replace_messages(a + b + c, {}), a + b + c);
  const std::string torn("B\0\0", 3);  // a message cut short stays as it was
  EXPECT_EQ(replace_messages(a + torn, {{0, ""}}), torn);
}

}  // namespace
}  // namespace cutover::router
