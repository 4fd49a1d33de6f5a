#include "protocol/md5_auth.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>

namespace cutover::protocol {
namespace {

constexpr std::string_view kPrefix = "md5";
constexpr size_t kHexDigits = 32;

// "md5" + lower-case hex of MD5(input). EVP rather than the deprecated MD5() call: OpenSSL 3's
// default provider serves it (a FIPS-only build would not, and md5 auth would fail closed).
std::string md5_hex(std::string_view input) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
  unsigned int size = 0;
  std::string out(kPrefix);
  if (EVP_Digest(input.data(), input.size(), digest.data(), &size, EVP_md5(), nullptr) != 1) {
    return "";
  }
  constexpr std::string_view kHex = "0123456789abcdef";
  for (unsigned int i = 0; i < size; ++i) {
    out += kHex[digest[i] >> 4];
    out += kHex[digest[i] & 0xf];
  }
  return out;
}

}  // namespace

std::string md5_secret(std::string_view password, std::string_view user) {
  std::string input(password);
  input += user;
  return md5_hex(input);
}

bool is_md5_secret(std::string_view text) {
  if (text.size() != kPrefix.size() + kHexDigits || !text.starts_with(kPrefix)) return false;
  for (char c : text.substr(kPrefix.size())) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

std::string md5_response(std::string_view secret, const Md5Salt& salt) {
  if (!is_md5_secret(secret)) return "";
  std::string input(secret.substr(kPrefix.size()));
  input.append(reinterpret_cast<const char*>(salt.data()), salt.size());
  return md5_hex(input);
}

bool verify_md5_response(std::string_view secret, const Md5Salt& salt, std::string_view response) {
  std::string expected = md5_response(secret, salt);
  // The length is public (always 35 for a well-formed response); only the digits are compared
  // in constant time.
  if (expected.empty() || response.size() != expected.size()) return false;
  return CRYPTO_memcmp(expected.data(), response.data(), expected.size()) == 0;
}

}  // namespace cutover::protocol
