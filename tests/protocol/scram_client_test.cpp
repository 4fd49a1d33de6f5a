// The client side of SCRAM: RFC 7677's conversation reproduced exactly, round trips against
// ServerExchange with and without channel binding (mismatched certificates, "y" downgrades),
// pass-through keys recovered from a client's proof, and malformed or hostile server messages.
#include "protocol/scram_client.h"

#include <gtest/gtest.h>

#include "protocol/scram_server.h"

namespace cutover::protocol::scram {
namespace {

// RFC 7677 section 3.
constexpr std::string_view kClientNonce = "rOprNGfwEbeRWgbNEkqO";
constexpr std::string_view kServerNonce = "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0";
constexpr std::string_view kServerFirst =
    "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096";
constexpr std::string_view kServerFinal = "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=";

const std::vector<std::string> kPlain = {std::string(kMechanism)};
const std::vector<std::string> kBoth = {std::string(kMechanismPlus), std::string(kMechanism)};

const Verifier& pencil_verifier() {
  static const Verifier v =
      *make_verifier("pencil", *base64_decode("W22ZaJ0SNY7soEsUEjb6gQ=="), 4096);
  return v;
}

Key pencil_client_key() {
  const Verifier& v = pencil_verifier();
  return client_key(salted_password("pencil", v.salt, v.iterations));
}

ClientCredentials with_password(std::string password) {
  ClientCredentials c;
  c.password = std::move(password);
  return c;
}

ClientCredentials with_keys(const Key& client_key, const Verifier& verifier) {
  ClientCredentials c;
  c.client_key = client_key;
  c.verifier = verifier;
  return c;
}

ClientExchange pencil_client(std::string channel_binding = "") {
  return ClientExchange(with_password("pencil"), std::string(kClientNonce),
                        std::move(channel_binding));
}

// A client whose exchange got as far as sending client-first-message, as the RFC's user: after
// kServerFirst it expects kServerFinal.
ClientExchange started_client(ClientCredentials credentials = with_password("pencil")) {
  ClientExchange client(std::move(credentials), std::string(kClientNonce), "", "user");
  EXPECT_TRUE(client.choose_mechanism(kPlain));
  return client;
}

// Runs one whole exchange the way the proxy would relay it, stopping at the first error.
boost::system::error_code run(ClientExchange& client, ServerExchange& server,
                              std::vector<std::string> offered) {
  auto mechanism = client.choose_mechanism(offered);
  if (!mechanism) return mechanism.error();
  auto server_first = server.on_client_first(*mechanism, client.client_first());
  if (!server_first) return server_first.error();
  auto client_final = client.on_server_first(*server_first);
  if (!client_final) return client_final.error();
  auto server_final = server.on_client_final(*client_final);
  if (!server_final) return server_final.error();
  auto done = client.on_server_final(*server_final);
  return done ? boost::system::error_code{} : done.error();
}

const auto kBad = make_error_code(ProtocolError::kBadValue);
const auto kFailed = make_error_code(ProtocolError::kAuthenticationFailed);

TEST(ScramClientTest, ReproducesTheRfc7677Conversation) {
  ClientExchange client(with_password("pencil"), std::string(kClientNonce), "", "user");
  auto mechanism = client.choose_mechanism(kPlain);
  ASSERT_TRUE(mechanism);
  EXPECT_EQ(*mechanism, kMechanism);
  EXPECT_EQ(client.client_first(), "n,,n=user,r=rOprNGfwEbeRWgbNEkqO");
  auto final = client.on_server_first(kServerFirst);
  ASSERT_TRUE(final);
  EXPECT_EQ(*final,
            "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,"
            "p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=");
  EXPECT_TRUE(client.on_server_final(kServerFinal));
}

TEST(ScramClientTest, KeysGiveTheSameProofAsThePassword) {
  ClientExchange client(with_keys(pencil_client_key(), pencil_verifier()),
                        std::string(kClientNonce), "", "user");
  ASSERT_TRUE(client.choose_mechanism(kPlain));
  auto final = client.on_server_first(kServerFirst);
  ASSERT_TRUE(final);
  EXPECT_TRUE(final->ends_with(",p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="));
  EXPECT_TRUE(client.on_server_final(kServerFinal));
}

TEST(ScramClientTest, UserNameIsEmptyAsLibpqSendsItOrEscaped) {
  ClientExchange libpq = pencil_client();
  ASSERT_TRUE(libpq.choose_mechanism(kPlain));
  EXPECT_EQ(libpq.client_first(), "n,,n=,r=rOprNGfwEbeRWgbNEkqO");
  ClientExchange odd(with_password("pencil"), "abc", "", "a,b=c");
  ASSERT_TRUE(odd.choose_mechanism(kPlain));
  EXPECT_EQ(odd.client_first(), "n,,n=a=2Cb=3Dc,r=abc");
}

TEST(ScramClientTest, ChoosesPlusOnlyWithACertificateHashAndAnOffer) {
  const std::string hash(32, '\x42');
  struct Case {
    std::string binding;
    std::vector<std::string> offered;
    std::string_view mechanism;
    std::string_view gs2_header;
  };
  for (const Case& c :
       {Case{"", kBoth, kMechanism, "n,,"}, Case{"", kPlain, kMechanism, "n,,"},
        Case{hash, kBoth, kMechanismPlus, "p=tls-server-end-point,,"},
        Case{hash, {std::string(kMechanismPlus)}, kMechanismPlus, "p=tls-server-end-point,,"},
        Case{hash, kPlain, kMechanism, "y,,"}}) {
    ClientExchange client = pencil_client(c.binding);
    auto mechanism = client.choose_mechanism(c.offered);
    ASSERT_TRUE(mechanism) << c.gs2_header;
    EXPECT_EQ(*mechanism, c.mechanism);
    EXPECT_TRUE(client.client_first().starts_with(c.gs2_header)) << client.client_first();
  }
  for (std::vector<std::string> unusable :
       {std::vector<std::string>{}, {"SCRAM-SHA-1"}, {std::string(kMechanismPlus)}}) {
    ClientExchange client = pencil_client();
    EXPECT_EQ(client.choose_mechanism(unusable).error(), kBad);
    EXPECT_EQ(client.client_first(), "");
  }
  ClientExchange twice = pencil_client();
  ASSERT_TRUE(twice.choose_mechanism(kPlain));
  EXPECT_EQ(twice.choose_mechanism(kPlain).error(), kBad);
}

TEST(ScramClientTest, UnusableCredentialsAndNoncesAreRefusedBeforeSending) {
  for (std::string password : {"p\xc3\xa4ss", "tab\there", ""}) {
    ClientExchange client(with_password(password), "abc");
    EXPECT_EQ(client.choose_mechanism(kPlain).error(), kBad) << password;
  }
  for (std::string nonce : {"", "a,b", "a b", "\x7f"}) {
    ClientExchange client(with_password("pencil"), nonce);
    EXPECT_EQ(client.choose_mechanism(kPlain).error(), kBad) << nonce;
  }
  Key wrong = pencil_client_key();
  wrong[0] ^= 1;
  ClientExchange mismatched(with_keys(wrong, pencil_verifier()), "abc");
  EXPECT_EQ(mismatched.choose_mechanism(kPlain).error(), kBad);
  // Exactly one kind of credential: half a pair of keys, or keys and a password, are refused.
  ClientCredentials key_only;
  key_only.client_key = pencil_client_key();
  ClientCredentials verifier_only;
  verifier_only.verifier = pencil_verifier();
  ClientCredentials both = with_keys(pencil_client_key(), pencil_verifier());
  both.password = "pencil";
  for (const ClientCredentials& c : {key_only, verifier_only, both}) {
    ClientExchange client(c, "abc");
    EXPECT_EQ(client.choose_mechanism(kPlain).error(), kBad);
  }
}

TEST(ScramClientTest, RoundTripsWithTheServerSide) {
  const std::string hash(32, '\x42');
  struct Case {
    std::string client_binding;
    std::string server_binding;
  };
  // Neither on TLS; both with the same certificate; the client on TLS to a server that cannot
  // bind ("y"); and a client that does not bind to a server that could ("n", libpq's
  // channel_binding=disable).
  for (const Case& c : {Case{"", ""}, Case{hash, hash}, Case{hash, ""}, Case{"", hash}}) {
    ClientExchange client = pencil_client(c.client_binding);
    ServerExchange server(pencil_verifier(), std::string(kServerNonce), c.server_binding);
    EXPECT_FALSE(server.client_key());
    EXPECT_EQ(run(client, server, server.offers_plus() ? kBoth : kPlain),
              boost::system::error_code{});
    EXPECT_EQ(server.client_key(), pencil_client_key());
  }
}

TEST(ScramClientTest, WrongPasswordFailsAtTheServer) {
  ClientExchange client(with_password("pencil!"), std::string(kClientNonce));
  ServerExchange server(pencil_verifier(), std::string(kServerNonce));
  EXPECT_EQ(run(client, server, kPlain), kFailed);
  EXPECT_FALSE(server.client_key());
}

TEST(ScramClientTest, MismatchedCertificateHashesFailTheBinding) {
  // A man in the middle terminates TLS with its own certificate: the client hashes that one,
  // the server its own, and the c= attribute no longer matches.
  ClientExchange client = pencil_client(std::string(32, '\x42'));
  ServerExchange server(pencil_verifier(), std::string(kServerNonce), std::string(32, '\x43'));
  EXPECT_EQ(run(client, server, kBoth), kBad);
  EXPECT_FALSE(server.client_key());
}

TEST(ScramClientTest, StrippingPlusFromTheOfferIsCaughtByTheServer) {
  // The middle removes SCRAM-SHA-256-PLUS from AuthenticationSASL; the client, able to bind,
  // says so with "y", and a server that did offer PLUS refuses.
  ClientExchange client = pencil_client(std::string(32, '\x42'));
  ServerExchange server(pencil_verifier(), std::string(kServerNonce), std::string(32, '\x42'));
  EXPECT_EQ(run(client, server, kPlain), kBad);
}

TEST(ScramClientTest, PassThroughKeysLogInWithoutThePassword) {
  // Leg one: a client logs in to the proxy, which recovers the ClientKey from the proof.
  ClientExchange user = pencil_client();
  ServerExchange proxy(pencil_verifier(), "proxy-nonce");
  ASSERT_EQ(run(user, proxy, kPlain), boost::system::error_code{});
  ASSERT_TRUE(proxy.client_key());
  ClientCredentials keys = with_keys(*proxy.client_key(), pencil_verifier());

  // Leg two: the proxy logs in to a server with the same verifier, over TLS too.
  for (std::string binding : {std::string(), std::string(32, '\x42')}) {
    ClientExchange proxy_client(keys, "proxy-client-nonce", binding);
    ServerExchange server(pencil_verifier(), "server-nonce", binding);
    EXPECT_EQ(run(proxy_client, server, server.offers_plus() ? kBoth : kPlain),
              boost::system::error_code{});
    EXPECT_EQ(server.client_key(), *keys.client_key);
  }
}

TEST(ScramClientTest, PassThroughKeysCannotAnswerAnotherSaltOrCount) {
  ClientCredentials keys = with_keys(pencil_client_key(), pencil_verifier());
  for (auto other : {*make_verifier("pencil", "another salt", 4096),
                     *make_verifier("pencil", pencil_verifier().salt, 4097)}) {
    // Refused by the client before it sends a proof, which the server would refuse anyway.
    ClientExchange client(keys, std::string(kClientNonce));
    ServerExchange server(other, std::string(kServerNonce));
    ASSERT_TRUE(client.choose_mechanism(kPlain));
    auto server_first = server.on_client_first(kMechanism, client.client_first());
    ASSERT_TRUE(server_first);
    EXPECT_EQ(client.on_server_first(*server_first).error(), kFailed);
    // The password itself still works there.
    ClientExchange by_password = pencil_client();
    ServerExchange again(other, std::string(kServerNonce));
    EXPECT_EQ(run(by_password, again, kPlain), boost::system::error_code{});
  }
}

TEST(ScramClientTest, WrongServerSignatureIsRefused) {
  ClientExchange client = started_client();
  ASSERT_TRUE(client.on_server_first(kServerFirst));
  // The right signature for another password: this server does not hold pencil's verifier.
  Key other = server_signature(server_key(salted_password("other", "salt", 1)), "x");
  std::string forged =
      "v=" + base64_encode({reinterpret_cast<const char*>(other.data()), other.size()});
  EXPECT_EQ(client.on_server_final(forged).error(), kFailed);
  EXPECT_EQ(client.server_error(), "");
  // One attempt only: the real signature afterwards does not rescue the exchange.
  EXPECT_EQ(client.on_server_final(kServerFinal).error(), kBad);
}

TEST(ScramClientTest, SignatureDifferingInTheLastByteIsRefused) {
  ClientExchange client = started_client();
  ASSERT_TRUE(client.on_server_first(kServerFirst));
  // "G4=" -> "G8=" changes the last byte (the last two bits of '4' and '8' are padding).
  EXPECT_EQ(client.on_server_final("v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G8=").error(),
            kFailed);
  ClientExchange control = started_client();
  ASSERT_TRUE(control.on_server_first(kServerFirst));
  EXPECT_TRUE(control.on_server_final(kServerFinal));
}

TEST(ScramClientTest, ServerErrorAttributeIsReported) {
  ClientExchange client = started_client();
  ASSERT_TRUE(client.on_server_first(kServerFirst));
  EXPECT_EQ(client.on_server_final("e=invalid-proof").error(), kFailed);
  EXPECT_EQ(client.server_error(), "invalid-proof");
}

TEST(ScramClientTest, MalformedServerFinalMessagesAreRefused) {
  for (std::string_view bad :
       {"", "v=", "6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=",
        "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4",       // no padding
        "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=,x=y",  // extensions, as libpq refuses
        "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl9",          // 30 bytes
        "x=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="}) {
    ClientExchange client = started_client();
    ASSERT_TRUE(client.on_server_first(kServerFirst));
    EXPECT_EQ(client.on_server_final(bad).error(), kBad) << bad;
  }
}

TEST(ScramClientTest, MalformedServerFirstMessagesAreRefused) {
  const std::string r = "r=rOprNGfwEbeRWgbNEkqO%hvYD";
  const std::string s = "s=W22ZaJ0SNY7soEsUEjb6gQ==";
  for (std::string bad : {std::string(""),
                          "r=rOprNGfwEbeRWgbNEkqO," + s + ",i=4096",       // no server part
                          "r=XOprNGfwEbeRWgbNEkqO%hvYD," + s + ",i=4096",  // not our nonce
                          "r=other," + s + ",i=4096",
                          r + " x," + s + ",i=4096",
                          r + "\x7f," + s + ",i=4096",
                          s + "," + r + ",i=4096",
                          r + ",i=4096",
                          r + "," + s,
                          r + ",s=W22ZaJ0SNY7soEsUEjb6gQ,i=4096",
                          r + ",s=,i=4096",
                          r + ",s=W22Z aJ0SNY7soEsUEjb6gQ==,i=4096",
                          r + "," + s + ",i=0",
                          r + "," + s + ",i=-1",
                          r + "," + s + ",i=10000001",
                          r + "," + s + ",i=99999999999",
                          r + "," + s + ",i=4096x",
                          r + "," + s + ",i=",
                          r + "," + s + ",i=+4096",
                          r + "," + s + ",i= 4096",
                          "m=ext," + r + "," + s + ",i=4096",
                          r + "," + s + ",i=4096,x=ext",
                          r + "," + s + ",i=4096,"}) {
    ClientExchange client = started_client();
    EXPECT_EQ(client.on_server_first(bad).error(), kBad) << bad;
    EXPECT_EQ(client.on_server_final(kServerFinal).error(), kBad);
  }
}

TEST(ScramClientTest, IterationCapIsInclusive) {
  // Keys make this cheap: the count passes parsing and then fails only the keys' own check,
  // which would be kBadValue instead had the parser refused it.
  ClientExchange client = started_client(with_keys(pencil_client_key(), pencil_verifier()));
  EXPECT_EQ(client
                .on_server_first("r=rOprNGfwEbeRWgbNEkqOx,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=" +
                                 std::to_string(kMaxIterations))
                .error(),
            kFailed);
}

TEST(ScramClientTest, MessagesOutOfOrderAreRefused) {
  ClientExchange unstarted = pencil_client();
  EXPECT_EQ(unstarted.on_server_first(kServerFirst).error(), kBad);
  ClientExchange early = started_client();
  EXPECT_EQ(early.on_server_final(kServerFinal).error(), kBad);
  ClientExchange twice = started_client();
  ASSERT_TRUE(twice.on_server_first(kServerFirst));
  EXPECT_EQ(twice.on_server_first(kServerFirst).error(), kBad);
}

}  // namespace
}  // namespace cutover::protocol::scram
