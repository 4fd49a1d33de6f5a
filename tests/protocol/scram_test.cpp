// SCRAM-SHA-256 against RFC 7677's test vector, PostgreSQL's verifier format, and bad input.
#include "protocol/scram.h"

#include <gtest/gtest.h>

namespace cutover::protocol::scram {
namespace {

// RFC 7677 section 3: user "user", password "pencil".
constexpr std::string_view kClientFirstBare = "n=user,r=rOprNGfwEbeRWgbNEkqO";
constexpr std::string_view kServerFirst =
    "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096";
constexpr std::string_view kClientFinalWithoutProof =
    "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0";

std::string auth_message() {
  return std::string(kClientFirstBare) + "," + std::string(kServerFirst) + "," +
         std::string(kClientFinalWithoutProof);
}

std::string b64(const Key& key) {
  return base64_encode({reinterpret_cast<const char*>(key.data()), key.size()});
}

TEST(ScramTest, Rfc7677ClientProofAndServerSignature) {
  auto salt = base64_decode("W22ZaJ0SNY7soEsUEjb6gQ==");
  ASSERT_TRUE(salt);
  Key salted = salted_password("pencil", *salt, 4096);
  EXPECT_EQ(b64(client_proof(client_key(salted), auth_message())),
            "dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=");
  EXPECT_EQ(b64(server_signature(server_key(salted), auth_message())),
            "6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=");
}

TEST(ScramTest, ServerVerifiesTheRfcProofFromTheVerifierAlone) {
  auto salt = base64_decode("W22ZaJ0SNY7soEsUEjb6gQ==");
  auto verifier = make_verifier("pencil", *salt, 4096);
  ASSERT_TRUE(verifier);
  auto proof = base64_decode("dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=");
  Key key{};
  proof->copy(reinterpret_cast<char*>(key.data()), key.size());
  EXPECT_TRUE(verify_client_proof(verifier->stored_key, auth_message(), key));
  key[0] ^= 1;
  EXPECT_FALSE(verify_client_proof(verifier->stored_key, auth_message(), key));
  EXPECT_FALSE(verify_client_proof(verifier->stored_key, auth_message() + "x", key));
}

TEST(ScramTest, VerifierTextRoundTripsInPostgresFormat) {
  auto verifier = make_verifier("pencil", "0123456789abcdef", 4096);
  ASSERT_TRUE(verifier);
  std::string text = format_verifier(*verifier);
  EXPECT_EQ(text.rfind("SCRAM-SHA-256$4096:MDEyMzQ1Njc4OWFiY2RlZg==$", 0), 0u);
  auto parsed = parse_verifier(text);
  ASSERT_TRUE(parsed);
  EXPECT_EQ(*parsed, *verifier);
}

TEST(ScramTest, MalformedVerifiersAreRefused) {
  std::string good = format_verifier(*make_verifier("pw", "salt", 10));
  for (std::string bad :
       {std::string(""), std::string("md5abc"), good.substr(0, good.size() - 4),
        std::string("SCRAM-SHA-256$0:c2FsdA==$") + good.substr(good.find('$', 14) + 1),
        std::string("SCRAM-SHA-256$x:c2FsdA==$a:b"), std::string("SCRAM-SHA-256$10:c2FsdA==")}) {
    EXPECT_FALSE(parse_verifier(bad)) << bad;
  }
}

TEST(ScramTest, PasswordsThatNeedSaslprepAreRefused) {
  EXPECT_FALSE(make_verifier("p\xc3\xa4ss", "salt", 10));
  EXPECT_FALSE(make_verifier("tab\there", "salt", 10));
  EXPECT_FALSE(make_verifier("", "salt", 10));
  EXPECT_TRUE(make_verifier("plain ASCII with spaces!", "salt", 10));
}

TEST(ScramTest, Base64IsStrict) {
  EXPECT_EQ(base64_encode("hello"), "aGVsbG8=");
  EXPECT_EQ(*base64_decode("aGVsbG8="), "hello");
  EXPECT_EQ(*base64_decode(""), "");
  EXPECT_FALSE(base64_decode("aGVsbG8"));
  EXPECT_FALSE(base64_decode("aGV sbG8="));
  EXPECT_FALSE(base64_decode("aG=sbG8="));
}

}  // namespace
}  // namespace cutover::protocol::scram
