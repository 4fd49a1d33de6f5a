#include "proxy/credentials.h"

#include <fstream>
#include <sstream>

#include "protocol/md5_auth.h"
#include "proxy/tls.h"

namespace cutover::proxy {
namespace {

// Reads one double-quoted field at `pos`, with "" standing for a quote; nullopt if malformed.
std::optional<std::string> quoted_field(std::string_view line, size_t& pos) {
  while (pos < line.size() && (line[pos] == ' ' || line[pos] == '\t')) ++pos;
  if (pos >= line.size() || line[pos] != '"') return std::nullopt;
  std::string field;
  for (++pos; pos < line.size(); ++pos) {
    if (line[pos] != '"') {
      field.push_back(line[pos]);
    } else if (pos + 1 < line.size() && line[pos + 1] == '"') {
      field.push_back('"');
      ++pos;
    } else {
      ++pos;
      return field;
    }
  }
  return std::nullopt;
}

std::string read_file(const std::string& path, const std::string& setting) {
  std::ifstream in(path);
  if (!in) throw ConfigError("config: " + setting + ": cannot read " + path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

}  // namespace

std::optional<Secret> parse_secret(std::string_view text) {
  if (protocol::is_md5_secret(text)) return Secret{.scram = std::nullopt, .md5 = std::string(text)};
  auto verifier = protocol::scram::parse_verifier(text);
  if (!verifier) return std::nullopt;
  return Secret{.scram = *verifier, .md5 = ""};
}

UsersFile UsersFile::load(const std::string& path) {
  return parse(read_file(path, "auth.users_file"), path);
}

UsersFile UsersFile::parse(std::string_view text, const std::string& path) {
  UsersFile file;
  size_t line_number = 0;
  while (!text.empty()) {
    size_t end = text.find('\n');
    std::string_view line = text.substr(0, end);
    text = end == std::string_view::npos ? std::string_view() : text.substr(end + 1);
    ++line_number;
    if (line.ends_with('\r')) line.remove_suffix(1);
    auto first = line.find_first_not_of(" \t");
    if (first == std::string_view::npos || line[first] == '#') continue;
    auto fail = [&](const std::string& what) {
      throw ConfigError("users file " + path + ": line " + std::to_string(line_number) + ": " +
                        what);
    };
    size_t pos = 0;
    auto name = quoted_field(line, pos);
    auto secret = name ? quoted_field(line, pos) : std::nullopt;
    if (!secret || line.find_first_not_of(" \t", pos) != std::string_view::npos) {
      fail("expected \"name\" \"secret\"");
    }
    auto parsed = parse_secret(*secret);
    if (!parsed) {
      fail("the secret for \"" + *name +
           "\" is not a SCRAM-SHA-256 verifier or md5 hash (plain passwords are not accepted; "
           "make a verifier with `cutover scram-verifier`)");
    }
    if (!file.users_.emplace(*name, *parsed).second) fail("\"" + *name + "\" is listed twice");
  }
  return file;
}

const Secret* UsersFile::find(std::string_view user) const {
  auto it = users_.find(std::string(user));
  return it == users_.end() ? nullptr : &it->second;
}

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
  std::string text = read_file(path, setting);
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
