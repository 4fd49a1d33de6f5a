// Log lines: structure, and values from clients that must not forge lines or break JSON.
#include "proxy/base/log.h"

#include <gtest/gtest.h>

namespace cutover::proxy::log {
namespace {

// The line without its leading timestamp field, which changes from run to run.
std::string without_timestamp(std::string line, Format format) {
  size_t end = format == Format::kJson ? line.find(",\"level\"") : line.find(" level=");
  return line.substr(end);
}

TEST(LogTest, JsonLineCarriesEventAndTypedFields) {
  configure(Level::kInfo, Format::kJson);
  std::string line =
      format_line(Level::kInfo, "client_logged_in", {{"conn", 7}, {"user", "ann"}, {"ratio", 0.5}});
  EXPECT_EQ(line.rfind("{\"ts\":\"", 0), 0u);
  EXPECT_EQ(without_timestamp(line, Format::kJson),
            ",\"level\":\"info\",\"event\":\"client_logged_in\",\"conn\":7,\"user\":\"ann\","
            "\"ratio\":0.500000}\n");
}

TEST(LogTest, TextLineQuotesOnlyWhatNeedsIt) {
  configure(Level::kInfo, Format::kKeyValue);
  std::string line =
      format_line(Level::kWarn, "x", {{"conn", 3}, {"plain", "abc"}, {"spaced", "a b"}});
  EXPECT_EQ(without_timestamp(line, Format::kKeyValue),
            " level=warn event=x conn=3 plain=abc spaced=\"a b\"\n");
  configure(Level::kInfo, Format::kJson);
}

TEST(LogTest, ControlCharactersCannotForgeALine) {
  for (Format format : {Format::kJson, Format::kKeyValue}) {
    configure(Level::kInfo, format);
    std::string line =
        format_line(Level::kInfo, "e", {{"user", "evil\r\nlevel=error event=forged\x01"}});
    EXPECT_EQ(line.find('\n'), line.size() - 1);
    EXPECT_EQ(line.find('\r'), std::string::npos);
    EXPECT_NE(line.find("\\r\\n"), std::string::npos);
    EXPECT_NE(line.find("\\u0001"), std::string::npos);
  }
  configure(Level::kInfo, Format::kJson);
}

TEST(LogTest, InvalidUtf8BecomesReplacementButValidUtf8Stays) {
  configure(Level::kInfo, Format::kJson);
  std::string line = format_line(Level::kInfo, "e",
                                 {{"db",
                                   "z\xc3\xab"
                                   "e\xff\xc3"}});
  EXPECT_NE(line.find("\"db\":\"z\xc3\xab"
                      "e\\ufffd\\ufffd\""),
            std::string::npos)
      << line;
}

TEST(LogTest, LevelsFilter) {
  configure(Level::kWarn, Format::kJson);
  EXPECT_FALSE(enabled(Level::kInfo));
  EXPECT_TRUE(enabled(Level::kWarn));
  EXPECT_TRUE(enabled(Level::kError));
  EXPECT_EQ(parse_level("debug"), Level::kDebug);
  configure(Level::kInfo, Format::kJson);
}

}  // namespace
}  // namespace cutover::proxy::log
