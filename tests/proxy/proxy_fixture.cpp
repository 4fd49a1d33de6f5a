#include "tests/proxy/proxy_fixture.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <stdexcept>

#include "protocol/backend.h"
#include "protocol/framing.h"
#include "protocol/startup.h"

namespace cutover::testing {

void ProxyTest::start_proxy(const std::string& extra_yaml, const std::string& listen_fields) {
  proxy_.reset();
  uint16_t port = free_port();
  std::string yaml = "listen: { address: 127.0.0.1, port: " + std::to_string(port) +
                     (listen_fields.empty() ? "" : ", " + listen_fields) +
                     " }\nthreads: 2\nbackends:\n  old: { host: 127.0.0.1, port: " +
                     std::to_string(backend_port()) + " }\n" + extra_yaml;
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
