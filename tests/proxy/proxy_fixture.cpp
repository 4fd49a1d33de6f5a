#include "tests/proxy/proxy_fixture.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fstream>
#include <stdexcept>

#include "protocol/backend.h"
#include "protocol/framing.h"
#include "protocol/frontend.h"
#include "protocol/md5_auth.h"
#include "protocol/scram.h"
#include "protocol/startup.h"

namespace cutover::testing {

void ProxyTest::start_proxy(const std::string& extra_yaml, const std::string& listen_fields) {
  proxy_.reset();
  uint16_t port = free_port();
  bool own_auth =
      extra_yaml.starts_with("auth:") || extra_yaml.find("\nauth:") != std::string::npos;
  std::string old_fields = backend_fields();
  std::string yaml =
      "listen: { address: 127.0.0.1, port: " + std::to_string(port) +
      (listen_fields.empty() ? "" : ", " + listen_fields) + " }\nthreads: 2\n" +
      (own_auth ? "" : kTrustLocal) +
      "backends:\n  old: { host: 127.0.0.1, port: " + std::to_string(backend_port()) +
      (old_fields.empty() ? "" : ", " + old_fields) + " }\n" +
      (new_backend_port() == 0
           ? ""
           : "  new: { host: 127.0.0.1, port: " + std::to_string(new_backend_port()) + " }\n") +
      extra_yaml;
  proxy_ = std::make_unique<CutoverProcess>(CUTOVER_BINARY, yaml, port);
}

RawClient::RawClient(uint16_t port) {
  fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (fd_ < 0 || ::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    throw std::runtime_error("RawClient: cannot connect to port " + std::to_string(port));
  }
}

RawClient::~RawClient() {
  if (fd_ >= 0) ::close(fd_);
}

void RawClient::send(const std::string& bytes) {
  size_t sent = 0;
  while (sent < bytes.size()) {
    ssize_t n = ::send(fd_, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) throw std::runtime_error("RawClient: send failed");
    sent += static_cast<size_t>(n);
  }
}

std::string RawClient::read(size_t n, std::chrono::milliseconds timeout) {
  std::string out;
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (out.size() < n && !closed_) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) break;
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) break;
    char buf[65536];
    ssize_t got = ::recv(fd_, buf, std::min(sizeof buf, n - out.size()), 0);
    if (got <= 0) {
      closed_ = true;
      break;
    }
    out.append(buf, static_cast<size_t>(got));
  }
  return out;
}

std::string RawClient::read_until_closed(std::chrono::milliseconds timeout) {
  return read(SIZE_MAX / 2, timeout);
}

std::string startup_bytes(const std::string& user, const std::string& database) {
  std::string out;
  protocol::StartupMessage m;
  m.parameters = {{"user", user}, {"database", database}};
  protocol::encode(m, out);
  return out;
}

std::string raw_login(RawClient& client) {
  client.send(startup_bytes());
  std::string got;
  while (got.find(std::string("Z\0\0\0\5I", 6)) == std::string::npos && !client.closed()) {
    std::string more = client.read(1, std::chrono::seconds(5));
    if (more.empty()) break;
    got += more;
  }
  return got;
}

std::optional<RawMessage> read_message(RawClient& client, std::chrono::milliseconds timeout) {
  std::string header = client.read(5, timeout);
  if (header.size() < 5) return std::nullopt;
  uint32_t length = 0;
  for (int i = 1; i < 5; ++i) length = length << 8 | static_cast<unsigned char>(header[i]);
  if (length < 4) return std::nullopt;
  std::string body = client.read(length - 4, timeout);
  if (body.size() != length - 4) return std::nullopt;
  return RawMessage{header[0], std::move(body)};
}

int auth_code(const RawMessage& m) {
  if (m.type != 'R' || m.body.size() < 4) return -1;
  int code = 0;
  for (int i = 0; i < 4; ++i) code = code << 8 | static_cast<unsigned char>(m.body[i]);
  return code;
}

std::string password_message(const std::string& password) {
  std::string out;
  protocol::encode(protocol::PasswordMessage{password}, out);
  return out;
}

std::string ssl_request_bytes() {
  std::string out;
  protocol::encode(protocol::SSLRequest{}, out);
  return out;
}

std::string login_error(const std::string& conninfo) {
  PGconn* conn = PQconnectdb(conninfo.c_str());
  std::string error = PQstatus(conn) == CONNECTION_OK ? "" : PQerrorMessage(conn);
  PQfinish(conn);
  return error;
}

std::string server_part(const std::string& error) {
  auto at = error.find("FATAL:");
  return at == std::string::npos ? error : error.substr(at);
}

std::string scram_user_line(const std::string& user, const std::string& password) {
  auto verifier = protocol::scram::make_verifier(password, "salt of " + user,
                                                 protocol::scram::kDefaultIterations);
  if (!verifier) throw std::invalid_argument("cannot make a verifier for " + user);
  return "\"" + user + "\" \"" + protocol::scram::format_verifier(*verifier) + "\"\n";
}

std::string md5_user_line(const std::string& user, const std::string& password) {
  return "\"" + user + "\" \"" + protocol::md5_secret(password, user) + "\"\n";
}

ScratchDir::~ScratchDir() {
  std::error_code ignored;
  std::filesystem::remove_all(path_, ignored);
}

std::filesystem::path ScratchDir::write(const std::string& name, const std::string& text) const {
  auto path = path_ / name;
  std::ofstream out(path, std::ios::trunc);
  out << text;
  if (!out) throw std::runtime_error("cannot write " + path.string());
  return path;
}

std::string first_error_sqlstate(const std::string& bytes, char type) {
  std::string_view rest = bytes;
  while (true) {
    auto frame = protocol::next_frame(rest, 1 << 20);
    if (frame.status != protocol::FrameStatus::kFrame) return "";
    rest.remove_prefix(frame.consumed);
    if (frame.type != type) continue;
    auto message = protocol::decode_backend(type, frame.body);
    if (!message) return "";
    auto code = std::get<protocol::ErrorFields>(*message).get('C');
    return code ? std::string(*code) : "";
  }
}

}  // namespace cutover::testing
