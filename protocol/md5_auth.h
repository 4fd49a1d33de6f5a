// PostgreSQL's md5 password authentication (AuthenticationMD5Password): the secret pg_authid
// stores and the salted response a client sends. Not SCRAM (scram.h), and not a recommendation:
// md5 secrets are password equivalents, kept only for servers that still use them.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

namespace cutover::protocol {

// The salt of AuthenticationMD5Password: four arbitrary bytes.
using Md5Salt = std::array<uint8_t, 4>;

// "md5" + hex(md5(password + user)), lower case: what pg_authid.rolpassword holds. The user is
// the salt, so the same password gives a different secret per role.
std::string md5_secret(std::string_view password, std::string_view user);

// Whether `text` is a secret in md5_secret's form ("md5" + 32 lower-case hex digits), as
// PostgreSQL's get_password_type decides it.
bool is_md5_secret(std::string_view text);

// "md5" + hex(md5(hex part of secret + salt)): the PasswordMessage a client sends. Knowing the
// secret is enough, so a proxy can answer with a stored secret instead of the password. Empty
// if !is_md5_secret(secret); no server accepts an empty response.
std::string md5_response(std::string_view secret, const Md5Salt& salt);

// Whether `response` is md5_response(secret, salt), compared in constant time. False when the
// secret is not an md5 secret.
bool verify_md5_response(std::string_view secret, const Md5Salt& salt, std::string_view response);

}  // namespace cutover::protocol
