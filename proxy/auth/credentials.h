// What cutover authenticates with: client verifiers from the users file, its own passwords for
// the databases, and the TLS contexts — everything SIGHUP reloads from files. Not the exchanges
// that use them (client_auth.cpp, backend_login.h), nor the users file's format (users_file.h).
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "proxy/auth/users_file.h"
#include "proxy/base/config.h"
#include "proxy/net/stream.h"

namespace cutover::proxy {

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
