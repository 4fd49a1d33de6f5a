#include "proxy/auth/credentials.h"

#include "proxy/net/tls.h"

namespace cutover::proxy {

TrustedNetworks::TrustedNetworks(const std::vector<std::string>& networks) {
  for (const auto& text : networks) {
    if (text.find(':') != std::string::npos) {
      v6_.push_back(asio::ip::make_network_v6(text));
    } else {
      v4_.push_back(asio::ip::make_network_v4(text));
    }
  }
}

bool TrustedNetworks::contains(const asio::ip::address& address) const {
  auto inside_v4 = [&](const asio::ip::address_v4& a) {
    for (const auto& n : v4_) {
      uint32_t mask = n.netmask().to_uint();
      if ((a.to_uint() & mask) == (n.address().to_uint() & mask)) return true;
    }
    return false;
  };
  if (address.is_v4()) return inside_v4(address.to_v4());
  const auto v6 = address.to_v6();
  if (v6.is_v4_mapped() && inside_v4(asio::ip::make_address_v4(asio::ip::v4_mapped, v6))) {
    return true;
  }
  for (const auto& n : v6_) {
    // network_v6 has no mask accessor: compare the network of `address` at the same prefix.
    if (asio::ip::network_v6(v6, n.prefix_length()).canonical() == n.canonical()) return true;
  }
  return false;
}

std::string read_password_file(const std::string& path, const std::string& setting) {
  std::string text = read_text_file(path, setting);
  std::string password = text.substr(0, text.find('\n'));
  if (password.ends_with('\r')) password.pop_back();
  if (password.empty()) throw ConfigError("config: " + setting + ": " + path + " is empty");
  return password;
}

std::shared_ptr<const Secrets> load_secrets(const Config& config) {
  auto secrets = std::make_shared<Secrets>();
  if (!config.auth.users_file.empty()) secrets->users = UsersFile::load(config.auth.users_file);
  secrets->server_tls = make_server_tls_context(config.tls);
  auto backend = [](const BackendConfig& b, const std::string& name) {
    BackendSecrets s;
    if (!b.password_file.empty()) {
      s.password = read_password_file(b.password_file, "backends." + name + ".password_file");
    }
    s.tls = make_backend_tls_context(b);
    return s;
  };
  secrets->old_db = backend(config.backends.old_db, "old");
  secrets->new_db = backend(config.backends.new_db, "new");
  if (!config.auth.query_password_file.empty()) {
    secrets->query_password =
        read_password_file(config.auth.query_password_file, "auth.query_password_file");
  } else if (config.auth.query_user.empty()) {
    secrets->query_password = secrets->old_db.password;
  }
  return secrets;
}

}  // namespace cutover::proxy
