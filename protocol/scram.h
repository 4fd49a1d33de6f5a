// SCRAM-SHA-256 (RFC 5802, RFC 7677) as PostgreSQL uses it: verifiers, keys, proofs and
// signatures. Not the SASL message exchange itself, nor SASLprep of non-ASCII passwords.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "protocol/error.h"

namespace cutover::protocol::scram {

inline constexpr int kDefaultIterations = 4096;  // PostgreSQL's scram_iterations default
inline constexpr size_t kDefaultSaltBytes = 16;  // as PostgreSQL generates them

// The SASL mechanism names PostgreSQL announces in AuthenticationSASL.
inline constexpr std::string_view kMechanism = "SCRAM-SHA-256";
inline constexpr std::string_view kMechanismPlus = "SCRAM-SHA-256-PLUS";

using Key = std::array<uint8_t, 32>;

// What PostgreSQL stores in pg_authid.rolpassword; never the password itself.
struct Verifier {
  int iterations = kDefaultIterations;
  std::string salt;  // raw bytes
  Key stored_key{};
  Key server_key{};
  friend bool operator==(const Verifier&, const Verifier&) = default;
};

// "SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>", the three in base64.
std::string format_verifier(const Verifier& v);
Result<Verifier> parse_verifier(std::string_view text);

// Whether we can hash `password` as is: non-empty printable ASCII. PostgreSQL SASLpreps
// passwords first; for printable ASCII that is the identity, so other passwords are refused
// rather than hashed differently from the server.
bool password_supported(std::string_view password);

// Derives the verifier for a password; kBadValue unless password_supported(password).
Result<Verifier> make_verifier(std::string_view password, std::string_view salt, int iterations);

// The RFC 5802 building blocks. `auth_message` is client-first-message-bare + "," +
// server-first-message + "," + client-final-message-without-proof.
Key salted_password(std::string_view password, std::string_view salt, int iterations);
Key client_key(const Key& salted);
Key server_key(const Key& salted);
Key stored_key(const Key& client_key);
Key client_proof(const Key& client_key, std::string_view auth_message);
Key server_signature(const Key& server_key, std::string_view auth_message);
// Whether `proof` shows knowledge of the password behind `stored_key` (constant time).
bool verify_client_proof(const Key& stored_key, std::string_view auth_message, const Key& proof);
// ClientKey = ClientProof XOR HMAC(StoredKey, AuthMessage). Only meaningful once
// verify_client_proof accepted the proof; a proxy then holds a key that logs in wherever this
// verifier is installed (pass-through, as PgBouncer does), so treat it like the password.
Key recover_client_key(const Key& stored_key, std::string_view auth_message, const Key& proof);

std::string base64_encode(std::string_view bytes);
// Strict: padding required, no whitespace; anything else is kBadValue.
Result<std::string> base64_decode(std::string_view text);

}  // namespace cutover::protocol::scram
