// The server side of SCRAM: the RFC 7677 conversation replayed, wrong proofs, malformed
// messages, and channel binding (tls-server-end-point) including downgrade attempts.
#include "protocol/scram_server.h"

#include <gtest/gtest.h>

namespace cutover::protocol::scram {
namespace {

constexpr std::string_view kServerNonce = "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0";
constexpr std::string_view kClientFirst = "n,,n=user,r=rOprNGfwEbeRWgbNEkqO";

Verifier pencil_verifier() {
  return *make_verifier("pencil", *base64_decode("W22ZaJ0SNY7soEsUEjb6gQ=="), 4096);
}

std::string b64(const Key& key) {
  return base64_encode({reinterpret_cast<const char*>(key.data()), key.size()});
}

// What a client that knows `password` sends as its final message.
std::string client_final(std::string_view password, std::string_view client_first_bare,
                         std::string_view server_first, std::string_view binding_input) {
  std::string nonce(server_first.substr(2, server_first.find(',') - 2));
  std::string without_proof = "c=" + base64_encode(binding_input) + ",r=" + nonce;
  std::string auth =
      std::string(client_first_bare) + "," + std::string(server_first) + "," + without_proof;
  Verifier v = pencil_verifier();
  Key salted = salted_password(password, v.salt, v.iterations);
  return without_proof + ",p=" + b64(client_proof(client_key(salted), auth));
}

TEST(ScramServerTest, ReplaysTheRfc7677Conversation) {
  ServerExchange server(pencil_verifier(), std::string(kServerNonce));
  EXPECT_FALSE(server.offers_plus());
  auto first = server.on_client_first(kMechanism, kClientFirst);
  ASSERT_TRUE(first);
  EXPECT_EQ(*first,
            "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,"
            "i=4096");
  auto final = server.on_client_final(
      "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,"
      "p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=");
  ASSERT_TRUE(final);
  EXPECT_EQ(*final, "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=");
}

TEST(ScramServerTest, WrongPasswordIsAuthenticationFailed) {
  ServerExchange server(pencil_verifier(), std::string(kServerNonce));
  auto first = server.on_client_first(kMechanism, kClientFirst);
  ASSERT_TRUE(first);
  auto final = server.on_client_final(client_final("pen", kClientFirst.substr(3), *first, "n,,"));
  EXPECT_EQ(final.error(), make_error_code(ProtocolError::kAuthenticationFailed));
}

TEST(ScramServerTest, TamperedFinalMessagesAreRefused) {
  for (std::string_view tampered :
       {"c=biws,r=rOprNGfwEbeRWgbNEkqO,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
        "c=eSws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,"
        "p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
        "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=short",
        "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0", ""}) {
    ServerExchange server(pencil_verifier(), std::string(kServerNonce));
    ASSERT_TRUE(server.on_client_first(kMechanism, kClientFirst));
    EXPECT_EQ(server.on_client_final(tampered).error(), make_error_code(ProtocolError::kBadValue))
        << tampered;
  }
}

TEST(ScramServerTest, MalformedFirstMessagesAreRefused) {
  for (std::string_view bad : {"", "n,,", "x,,n=user,r=abc", "n,a=admin,n=user,r=abc", "n,,r=abc",
                               "n,,n=user", "n,,n=user,r=", "n,,n=user,r=a,b"}) {
    ServerExchange server(pencil_verifier(), std::string(kServerNonce));
    auto first = server.on_client_first(kMechanism, bad);
    if (bad == "n,,n=user,r=a,b") {
      EXPECT_TRUE(first) << bad;  // extensions after the nonce are allowed
      continue;
    }
    EXPECT_FALSE(first) << bad;
  }
  ServerExchange unknown(pencil_verifier(), std::string(kServerNonce));
  EXPECT_FALSE(unknown.on_client_first("SCRAM-SHA-1", kClientFirst));
}

TEST(ScramServerTest, MessagesOutOfOrderAreRefused) {
  ServerExchange server(pencil_verifier(), std::string(kServerNonce));
  EXPECT_FALSE(server.on_client_final("c=biws,r=x,p=y"));
  ServerExchange twice(pencil_verifier(), std::string(kServerNonce));
  ASSERT_TRUE(twice.on_client_first(kMechanism, kClientFirst));
  EXPECT_FALSE(twice.on_client_first(kMechanism, kClientFirst));
}

TEST(ScramServerTest, ChannelBindingBindsTheCertificateHash) {
  const std::string cert_hash(32, '\x42');
  const std::string header = "p=tls-server-end-point,,";
  ServerExchange server(pencil_verifier(), std::string(kServerNonce), cert_hash);
  EXPECT_TRUE(server.offers_plus());
  std::string first_message = header + "n=,r=clientnonce";
  auto first = server.on_client_first(kMechanismPlus, first_message);
  ASSERT_TRUE(first);
  auto final = server.on_client_final(
      client_final("pencil", "n=,r=clientnonce", *first, header + cert_hash));
  EXPECT_TRUE(final);

  // The same proof over another certificate's hash (a man in the middle) is refused.
  ServerExchange other(pencil_verifier(), std::string(kServerNonce), std::string(32, '\x43'));
  ASSERT_TRUE(other.on_client_first(kMechanismPlus, first_message));
  EXPECT_FALSE(other.on_client_final(
      client_final("pencil", "n=,r=clientnonce", *first, header + cert_hash)));
}

TEST(ScramServerTest, ChannelBindingDowngradesAreRefused) {
  const std::string cert_hash(32, '\x42');
  ServerExchange y_with_tls(pencil_verifier(), std::string(kServerNonce), cert_hash);
  EXPECT_FALSE(y_with_tls.on_client_first(kMechanism, "y,,n=,r=abc"));
  ServerExchange plus_without_tls(pencil_verifier(), std::string(kServerNonce));
  EXPECT_FALSE(plus_without_tls.on_client_first(kMechanismPlus, "p=tls-server-end-point,,n=,r=a"));
  ServerExchange p_on_plain(pencil_verifier(), std::string(kServerNonce), cert_hash);
  EXPECT_FALSE(p_on_plain.on_client_first(kMechanism, "p=tls-server-end-point,,n=,r=a"));
  ServerExchange y_without_tls(pencil_verifier(), std::string(kServerNonce));
  EXPECT_TRUE(y_without_tls.on_client_first(kMechanism, "y,,n=,r=abc"));
}

}  // namespace
}  // namespace cutover::protocol::scram
