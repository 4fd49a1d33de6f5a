#include "protocol/scram.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>

#include <charconv>

namespace cutover::protocol::scram {
namespace {

constexpr std::string_view kPrefix = "SCRAM-SHA-256$";

std::string_view as_chars(const Key& key) {
  return {reinterpret_cast<const char*>(key.data()), key.size()};
}

Key hmac(std::string_view key, std::string_view message) {
  Key out{};
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(message.data()), message.size(), out.data(), &len);
  return out;
}

Key xor_keys(const Key& a, const Key& b) {
  Key out{};
  for (size_t i = 0; i < out.size(); ++i) out[i] = a[i] ^ b[i];
  return out;
}

Result<Key> decode_key(std::string_view text) {
  auto bytes = base64_decode(text);
  if (!bytes || bytes->size() != Key{}.size()) return make_error_code(ProtocolError::kBadValue);
  Key key{};
  bytes->copy(reinterpret_cast<char*>(key.data()), key.size());
  return key;
}

}  // namespace

Key salted_password(std::string_view password, std::string_view salt, int iterations) {
  Key out{};
  PKCS5_PBKDF2_HMAC(password.data(), static_cast<int>(password.size()),
                    reinterpret_cast<const unsigned char*>(salt.data()),
                    static_cast<int>(salt.size()), iterations, EVP_sha256(),
                    static_cast<int>(out.size()), out.data());
  return out;
}

Key client_key(const Key& salted) { return hmac(as_chars(salted), "Client Key"); }

Key server_key(const Key& salted) { return hmac(as_chars(salted), "Server Key"); }

Key stored_key(const Key& client_key) {
  Key out{};
  SHA256(client_key.data(), client_key.size(), out.data());
  return out;
}

Key client_proof(const Key& client_key, std::string_view auth_message) {
  return xor_keys(client_key, hmac(as_chars(stored_key(client_key)), auth_message));
}

Key server_signature(const Key& server_key, std::string_view auth_message) {
  return hmac(as_chars(server_key), auth_message);
}

Key recover_client_key(const Key& stored, std::string_view auth_message, const Key& proof) {
  return xor_keys(proof, hmac(as_chars(stored), auth_message));
}

bool verify_client_proof(const Key& stored, std::string_view auth_message, const Key& proof) {
  Key candidate = stored_key(recover_client_key(stored, auth_message, proof));
  return CRYPTO_memcmp(candidate.data(), stored.data(), stored.size()) == 0;
}

bool password_supported(std::string_view password) {
  if (password.empty()) return false;
  for (char c : password) {
    if (c < 0x20 || c > 0x7e) return false;
  }
  return true;
}

Result<Verifier> make_verifier(std::string_view password, std::string_view salt, int iterations) {
  if (!password_supported(password) || iterations < 1 || salt.empty()) {
    return make_error_code(ProtocolError::kBadValue);
  }
  Key salted = salted_password(password, salt, iterations);
  return Verifier{iterations, std::string(salt), stored_key(client_key(salted)),
                  server_key(salted)};
}

std::string format_verifier(const Verifier& v) {
  return std::string(kPrefix) + std::to_string(v.iterations) + ":" + base64_encode(v.salt) + "$" +
         base64_encode(as_chars(v.stored_key)) + ":" + base64_encode(as_chars(v.server_key));
}

Result<Verifier> parse_verifier(std::string_view text) {
  auto bad = make_error_code(ProtocolError::kBadValue);
  if (!text.starts_with(kPrefix)) return bad;
  text.remove_prefix(kPrefix.size());
  size_t colon = text.find(':');
  size_t dollar = text.find('$');
  if (colon == std::string_view::npos || dollar == std::string_view::npos || dollar < colon) {
    return bad;
  }
  Verifier v;
  std::string_view iterations = text.substr(0, colon);
  auto [end, ec] = std::from_chars(iterations.begin(), iterations.end(), v.iterations);
  if (ec != std::errc{} || end != iterations.end() || v.iterations < 1) return bad;
  auto salt = base64_decode(text.substr(colon + 1, dollar - colon - 1));
  if (!salt || salt->empty()) return bad;
  v.salt = std::move(*salt);
  std::string_view keys = text.substr(dollar + 1);
  size_t key_colon = keys.find(':');
  if (key_colon == std::string_view::npos) return bad;
  auto stored = decode_key(keys.substr(0, key_colon));
  auto server = decode_key(keys.substr(key_colon + 1));
  if (!stored || !server) return bad;
  v.stored_key = *stored;
  v.server_key = *server;
  return v;
}

// OpenSSL's block coder, rather than our own table: it is the one the TLS stack already trusts.
std::string base64_encode(std::string_view bytes) {
  std::string out(4 * ((bytes.size() + 2) / 3), '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(bytes.data()),
                          static_cast<int>(bytes.size()));
  out.resize(static_cast<size_t>(n));
  return out;
}

Result<std::string> base64_decode(std::string_view text) {
  auto bad = make_error_code(ProtocolError::kBadValue);
  if (text.size() % 4 != 0) return bad;
  for (char c : text) {
    bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '+' || c == '/' || c == '=';
    if (!ok) return bad;
  }
  std::string out(text.size() / 4 * 3, '\0');
  int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(text.data()),
                          static_cast<int>(text.size()));
  if (n < 0) return bad;
  // EVP_DecodeBlock counts padding as zero bytes; drop them.
  size_t padding = text.ends_with("==") ? 2 : text.ends_with("=") ? 1 : 0;
  size_t first_pad = text.find('=');
  if (first_pad != std::string_view::npos && first_pad < text.size() - padding) return bad;
  out.resize(static_cast<size_t>(n) - padding);
  return out;
}

}  // namespace cutover::protocol::scram
