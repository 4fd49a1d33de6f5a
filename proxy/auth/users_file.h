// The users file: the SCRAM verifiers (or md5 hashes) cutover checks clients against, never
// plain passwords. Pure parsing, no I/O beyond reading the file.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "protocol/scram.h"

namespace cutover::proxy {

// A stored client secret, never a password: a SCRAM verifier or PostgreSQL's md5 hash.
struct Secret {
  std::optional<protocol::scram::Verifier> scram;
  std::string md5;  // "md5" + 32 hex digits, when the secret is an md5 hash
};

// "SCRAM-SHA-256$..." or "md5...", as in pg_authid.rolpassword; nullopt for anything else
// (a plain password included).
std::optional<Secret> parse_secret(std::string_view text);

// The users file: one `"name" "secret"` per line, `""` for a quote inside a field, blank lines
// and lines starting with # ignored (PgBouncer's userlist.txt format, minus plain passwords).
class UsersFile {
 public:
  UsersFile() = default;
  // Throws ConfigError naming the file and line.
  static UsersFile load(const std::string& path);
  static UsersFile parse(std::string_view text, const std::string& path);

  const Secret* find(std::string_view user) const;
  size_t size() const { return users_.size(); }

 private:
  std::unordered_map<std::string, Secret> users_;
};

// The whole of a file as text; throws ConfigError naming `setting` when it cannot be read.
std::string read_text_file(const std::string& path, const std::string& setting);

}  // namespace cutover::proxy
