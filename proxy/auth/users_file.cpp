#include "proxy/auth/users_file.h"

#include <fstream>
#include <sstream>

#include "protocol/md5_auth.h"
#include "proxy/base/config.h"

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

}  // namespace

std::string read_text_file(const std::string& path, const std::string& setting) {
  std::ifstream in(path);
  if (!in) throw ConfigError("config: " + setting + ": cannot read " + path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

std::optional<Secret> parse_secret(std::string_view text) {
  if (protocol::is_md5_secret(text)) return Secret{.scram = std::nullopt, .md5 = std::string(text)};
  auto verifier = protocol::scram::parse_verifier(text);
  if (!verifier) return std::nullopt;
  return Secret{.scram = *verifier, .md5 = ""};
}

UsersFile UsersFile::load(const std::string& path) {
  return parse(read_text_file(path, "auth.users_file"), path);
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
      std::string message = "users file " + path + ": line " + std::to_string(line_number);
      message += ": ";
      message += what;
      throw ConfigError(message);
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

}  // namespace cutover::proxy
