// What cutover authenticates with: client verifiers from the users file, its own passwords for
// the databases, and the TLS contexts — everything SIGHUP reloads from files. Not the exchanges
// that use them (client_auth.cpp, backend_login.h).
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "protocol/scram.h"
#include "proxy/config.h"
#include "proxy/stream.h"

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

// auth.trust_addresses, parsed: the networks whose clients need no password.
class TrustedNetworks {
 public:
  explicit TrustedNetworks(const std::vector<std::string>& networks);  // validated by config
  bool contains(const asio::ip::address& address) const;

 private:
  std::vector<asio::ip::network_v4> v4_;
  std::vector<asio::ip::network_v6> v6_;
};

// The first line of a password file; throws ConfigError when it cannot be read.
std::string read_password_file(const std::string& path, const std::string& setting);

struct BackendSecrets {
  std::string password;               // empty when no password_file is set
  std::shared_ptr<ssl::context> tls;  // nullptr for sslmode disable
};

struct Secrets {
  UsersFile users;
  std::shared_ptr<ssl::context> server_tls;  // nullptr for tls.mode disable
  BackendSecrets old_db;
  BackendSecrets new_db;
  std::string query_password;  // for auth_query
};

// Reads every file the configuration names. Throws ConfigError or TlsError.
std::shared_ptr<const Secrets> load_secrets(const Config& config);

}  // namespace cutover::proxy
