// md5 password auth against values computed outside our code (coreutils md5sum, as noted on
// each), secret-shape checks, and response verification including salts with high bytes.
#include "protocol/md5_auth.h"

#include <gtest/gtest.h>

namespace cutover::protocol {
namespace {

// printf 'secretalice' | md5sum
constexpr std::string_view kAliceSecret = "md54a0a68b43b6cd5cf266fa02f196e2371";

TEST(Md5AuthTest, SecretIsWhatPostgresStores) {
  EXPECT_EQ(md5_secret("secret", "alice"), kAliceSecret);
  // printf 'postgrespostgres' | md5sum
  EXPECT_EQ(md5_secret("postgres", "postgres"), "md53175bce1d3201d16594cebf9d7eb3f9d");
  // Bytes are hashed as given, UTF-8 included: printf 'p\xc3\xa4ssbob' | md5sum
  EXPECT_EQ(md5_secret("p\xc3\xa4ss", "bob"), "md5ae40d3e8a181c247846331e2871f6fbd");
}

TEST(Md5AuthTest, ResponseHashesTheSecretDigitsWithTheSalt) {
  // printf '4a0a68b43b6cd5cf266fa02f196e2371\x01\x02\x03\x04' | md5sum
  EXPECT_EQ(md5_response(kAliceSecret, {1, 2, 3, 4}), "md598a0412b9c31436fc53776e863350083");
  // printf '4a0a68b43b6cd5cf266fa02f196e2371\xff\x00\x80\x7f' | md5sum
  Md5Salt high = {0xff, 0x00, 0x80, 0x7f};
  EXPECT_EQ(md5_response(kAliceSecret, high), "md56d76a01e3fbffac052c12216ad2fb78f");
}

TEST(Md5AuthTest, SecretShapeFollowsPostgres) {
  EXPECT_TRUE(is_md5_secret(kAliceSecret));
  EXPECT_FALSE(is_md5_secret(""));
  EXPECT_FALSE(is_md5_secret("md5"));
  EXPECT_FALSE(is_md5_secret("md54a0a68b43b6cd5cf266fa02f196e237"));    // 31 digits
  EXPECT_FALSE(is_md5_secret("md54a0a68b43b6cd5cf266fa02f196e23711"));  // 33 digits
  EXPECT_FALSE(is_md5_secret("md54A0A68B43B6CD5CF266FA02F196E2371"));   // PostgreSQL: lower only
  EXPECT_FALSE(is_md5_secret("md54a0a68b43b6cd5cf266fa02f196e237g"));
  EXPECT_FALSE(is_md5_secret("MD54a0a68b43b6cd5cf266fa02f196e2371"));
  EXPECT_FALSE(is_md5_secret("SCRAM-SHA-256$4096:c2FsdA==$a:b"));
}

TEST(Md5AuthTest, ResponseNeedsAnMd5Secret) {
  EXPECT_EQ(md5_response("secret", {1, 2, 3, 4}), "");
  EXPECT_EQ(md5_response("", {1, 2, 3, 4}), "");
}

TEST(Md5AuthTest, VerifyAcceptsOnlyTheExactResponse) {
  const Md5Salt salt = {1, 2, 3, 4};
  const std::string good = md5_response(kAliceSecret, salt);
  EXPECT_TRUE(verify_md5_response(kAliceSecret, salt, good));
  EXPECT_FALSE(verify_md5_response(kAliceSecret, {1, 2, 3, 5}, good));
  EXPECT_FALSE(verify_md5_response(md5_secret("secret", "bob"), salt, good));
  std::string flipped = good;
  flipped.back() = flipped.back() == '0' ? '1' : '0';
  EXPECT_FALSE(verify_md5_response(kAliceSecret, salt, flipped));
  EXPECT_FALSE(verify_md5_response(kAliceSecret, salt, good.substr(0, 34)));
  EXPECT_FALSE(verify_md5_response(kAliceSecret, salt, good + "0"));
  EXPECT_FALSE(verify_md5_response(kAliceSecret, salt, ""));
  // A client must prove knowledge of the secret, not echo the secret itself.
  EXPECT_FALSE(verify_md5_response(kAliceSecret, salt, kAliceSecret));
  // A non-md5 secret never verifies, not even against an empty response.
  EXPECT_FALSE(verify_md5_response("secret", salt, ""));
  EXPECT_FALSE(verify_md5_response("secret", salt, md5_response("secret", salt)));
}

}  // namespace
}  // namespace cutover::protocol
