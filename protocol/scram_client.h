// The client side of one SCRAM-SHA-256 exchange (RFC 5802 section 5, RFC 7677, RFC 5929's
// tls-server-end-point binding) as libpq runs it against PostgreSQL, for the proxy's own logins
// to a backend. Pure: no I/O, no randomness (the caller supplies the client nonce). Not the SASL
// framing (frontend.h and backend.h have the messages).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "protocol/error.h"
#include "protocol/scram.h"

namespace cutover::protocol::scram {

// Iteration counts above this are refused: PostgreSQL's default is 4096, and a server (or a
// man in the middle) naming billions would pin a proxy thread in PBKDF2.
inline constexpr int kMaxIterations = 10'000'000;

// What the client proves it knows: exactly one of
//  - a plaintext `password` (password_supported() must hold: printable ASCII, as for
//    make_verifier), or
//  - "pass-through keys": `client_key` and the `verifier` it belongs to, e.g. recovered by
//    ServerExchange::client_key() from a client's own proof. They log in only to a server whose
//    verifier has the same salt and iteration count, as PgBouncer's auth pass-through does.
struct ClientCredentials {
  std::string password;
  std::optional<Key> client_key;
  std::optional<Verifier> verifier;
};

class ClientExchange {
 public:
  // `channel_binding` is the tls-server-end-point hash of the server's certificate when the
  // connection is on TLS, empty otherwise. `user` goes into client-first-message's "n="; libpq
  // leaves it empty because PostgreSQL takes the role from the startup packet, and only tests
  // against RFC vectors need another.
  ClientExchange(ClientCredentials credentials, std::string client_nonce,
                 std::string channel_binding = "", std::string user = "");

  // AuthenticationSASL's mechanisms -> the one to name in SASLInitialResponse, after which
  // client_first() holds that message's data. SCRAM-SHA-256-PLUS when we have a certificate
  // hash and it is offered; otherwise SCRAM-SHA-256 with gs2 flag "y" (we could bind, the server
  // cannot: a server that did offer PLUS then refuses, which catches a stripping MITM) or "n".
  // kBadValue when nothing usable is offered, the nonce is not printable, the credentials are
  // not exactly one usable kind (a supported password, or keys whose ClientKey hashes to their
  // verifier's StoredKey); also once it has succeeded.
  Result<std::string> choose_mechanism(const std::vector<std::string>& offered);

  // client-first-message: gs2-header "n=" user ",r=" client-nonce. Empty until
  // choose_mechanism succeeded.
  const std::string& client_first() const { return client_first_; }

  // server-first-message (AuthenticationSASLContinue) -> client-final-message (SASLResponse).
  // kBadValue for a malformed message: a nonce that does not extend ours, bad base64, an
  // iteration count outside 1..kMaxIterations, extensions, or a call out of order.
  // kAuthenticationFailed only with pass-through keys, when the server's salt or iteration count
  // differs from the keys' verifier: the keys cannot answer it, but a password could.
  Result<std::string> on_server_first(std::string_view message);

  // server-final-message (AuthenticationSASLFinal). Succeeds only if "v=" carries the
  // ServerSignature, which proves the server holds the verifier (compared in constant time).
  // kAuthenticationFailed for a wrong signature, or for "e=" (server_error() holds its text);
  // kBadValue for anything malformed or out of order.
  Result<void> on_server_final(std::string_view message);

  // The value of a server's "e=" attribute, e.g. "invalid-proof"; empty if none was received.
  const std::string& server_error() const { return server_error_; }

 private:
  ClientCredentials credentials_;
  std::string client_nonce_;
  std::string channel_binding_;
  std::string user_;
  std::string gs2_header_;  // "n,,", "y,," or "p=tls-server-end-point,,"
  std::string client_first_;
  std::string server_error_;
  std::optional<Key> expected_signature_;  // set once client-final-message is built
  bool first_done_ = false;
  bool final_done_ = false;
};

}  // namespace cutover::protocol::scram
