// The users file: quoting, comments, SCRAM and md5 secrets, and refusals that name the line.
#include "proxy/auth/users_file.h"

#include <gtest/gtest.h>

#include "protocol/md5_auth.h"
#include "proxy/base/config.h"

namespace cutover::proxy {
namespace {

std::string verifier_text() {
  auto verifier = protocol::scram::make_verifier("pencil", "0123456789abcdef", 4096);
  return protocol::scram::format_verifier(*verifier);
}

std::string error_of(const std::string& text) {
  try {
    UsersFile::parse(text, "users.txt");
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "no error";
}

TEST(UsersFileTest, ReadsScramAndMd5SecretsWithQuotesAndComments) {
  std::string md5 = protocol::md5_secret("secret", "bob");
  UsersFile users = UsersFile::parse("# cutover users\n\n\"alice\" \"" + verifier_text() +
                                         "\"\r\n  \"b\"\"ob\"\t\"" + md5 + "\"\n",
                                     "users.txt");
  EXPECT_EQ(users.size(), 2u);
  const Secret* alice = users.find("alice");
  ASSERT_NE(alice, nullptr);
  ASSERT_TRUE(alice->scram.has_value());
  EXPECT_EQ(alice->scram->iterations, 4096);
  EXPECT_EQ(alice->scram->salt, "0123456789abcdef");
  EXPECT_EQ(alice->md5, "");
  const Secret* bob = users.find("b\"ob");
  ASSERT_NE(bob, nullptr);
  EXPECT_FALSE(bob->scram.has_value());
  EXPECT_EQ(bob->md5, md5);
  EXPECT_EQ(users.find("bob"), nullptr);
}

TEST(UsersFileTest, RefusalsNameTheFileAndLine) {
  EXPECT_EQ(error_of("\n\"alice\" \"pencil\"\n"),
            "users file users.txt: line 2: the secret for \"alice\" is not a SCRAM-SHA-256 "
            "verifier or md5 hash (plain passwords are not accepted; make a verifier with "
            "`cutover scram-verifier`)");
  EXPECT_EQ(error_of("\"alice\" \"" + verifier_text() + "\" extra\n"),
            "users file users.txt: line 1: expected \"name\" \"secret\"");
  EXPECT_EQ(error_of("alice " + verifier_text() + "\n"),
            "users file users.txt: line 1: expected \"name\" \"secret\"");
  EXPECT_EQ(error_of("\"alice\n"), "users file users.txt: line 1: expected \"name\" \"secret\"");
  EXPECT_EQ(error_of("\"a\" \"" + verifier_text() + "\"\n\"a\" \"" + verifier_text() + "\"\n"),
            "users file users.txt: line 2: \"a\" is listed twice");
}

TEST(UsersFileTest, MissingFileIsAConfigError) {
  EXPECT_THROW(UsersFile::load("/nonexistent/users.txt"), ConfigError);
}

}  // namespace
}  // namespace cutover::proxy
