// The server side of one SCRAM-SHA-256 exchange (RFC 5802 section 5, RFC 5929's
// tls-server-end-point binding) as PostgreSQL runs it. Pure: no I/O, no randomness (the
// caller supplies the server nonce). Not the SASL framing (frontend.h has the messages).
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "protocol/error.h"
#include "protocol/scram.h"

namespace cutover::protocol::scram {

class ServerExchange {
 public:
  // `channel_binding` is the tls-server-end-point hash of the server certificate when the
  // client is on TLS (then SCRAM-SHA-256-PLUS is offered), empty otherwise.
  ServerExchange(Verifier verifier, std::string server_nonce, std::string channel_binding = "");

  // The mechanisms to announce in AuthenticationSASL, best first.
  bool offers_plus() const { return !channel_binding_.empty(); }

  // client-first-message (from SASLInitialResponse) -> server-first-message. kBadValue for a
  // malformed message or a channel-binding downgrade.
  Result<std::string> on_client_first(std::string_view mechanism, std::string_view message);

  // client-final-message -> server-final-message ("v=<ServerSignature>"). kAuthenticationFailed
  // when the proof does not match; kBadValue for anything malformed.
  Result<std::string> on_client_final(std::string_view message);

  // The client's ClientKey, recovered from its proof once on_client_final succeeded; nullopt
  // before. With the verifier it lets a proxy log in to a server holding the same verifier
  // (ClientExchange's pass-through keys) without ever learning the password.
  const std::optional<Key>& client_key() const { return client_key_; }

 private:
  Verifier verifier_;
  std::string server_nonce_;
  std::string channel_binding_;
  std::string gs2_header_;  // "n,,", "y,," or "p=tls-server-end-point,,"
  std::string client_first_bare_;
  std::string server_first_;
  std::string nonce_;  // client nonce + server nonce
  std::optional<Key> client_key_;
  bool first_done_ = false;
  bool final_done_ = false;
};

}  // namespace cutover::protocol::scram
