// The admin port as tests drive it: one HTTP request per connection, and a fixture running
// cutover in dual_write with its admin port, token, state file and audit log.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "tests/proxy/routing_fixture.h"

namespace cutover::testing {

inline constexpr char kToken[] = "s3cret-token";

struct HttpReply {
  int status = 0;
  std::string body;
};

// One request on its own connection (Connection: close), read to the end.
inline HttpReply http(uint16_t port, const std::string& method, const std::string& path,
                      const std::string& body = "", const std::string& token = kToken) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    ADD_FAILURE() << "cannot connect to the admin port " << port;
    return {};
  }
  std::string request = method + " " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\n";
  if (!token.empty()) request += "Authorization: Bearer " + token + "\r\n";
  request += "Content-Length: " + std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n";
  request += body;
  EXPECT_EQ(::write(fd, request.data(), request.size()), static_cast<ssize_t>(request.size()));
  std::string response;
  char buffer[4096];
  for (ssize_t n; (n = ::read(fd, buffer, sizeof buffer)) > 0;) response.append(buffer, n);
  ::close(fd);
  HttpReply reply;
  if (response.size() > 12) reply.status = std::stoi(response.substr(9, 3));
  const size_t header_end = response.find("\r\n\r\n");
  if (header_end != std::string::npos) reply.body = response.substr(header_end + 4);
  return reply;
}

// cutover in dual_write with its admin port, state file and audit log in dir_ (kept across
// restarts).
class AdminFixture : public RoutingTest {
 protected:
  void SetUp() override {
    dir_ = make_temp_dir("cutover-admin-");
    std::ofstream(dir_ / "token") << kToken << "\n";
  }
  void TearDown() override {
    proxy_.reset();
    std::filesystem::remove_all(dir_);
  }
  // `migration` goes into the migration section, `control` into the control mapping.
  void start_admin(double ramp, const std::string& migration = "",
                   const std::string& control = "") {
    admin_port_ = free_port();
    start_routing(ramp, "  read_your_writes_ms: 0\n" + migration +
                            "admin: { port: " + std::to_string(admin_port_) +
                            ", token_file: " + (dir_ / "token").string() +
                            ", audit_log: " + (dir_ / "audit.jsonl").string() +
                            " }\ncontrol: { store: \"file:" + (dir_ / "state.json").string() +
                            "\", promotion_window_s: 60" + control + " }\n");
  }
  HttpReply get(const std::string& path) { return http(admin_port_, "GET", path); }
  HttpReply post(const std::string& path, const std::string& body,
                 const std::string& token = kToken) {
    return http(admin_port_, "POST", path, body, token);
  }
  CommandResult ctl(std::vector<std::string> args) {
    std::vector<std::string> argv{CUTOVER_BINARY, "ctl",
                                  "--admin",      "http://127.0.0.1:" + std::to_string(admin_port_),
                                  "--token-file", (dir_ / "token").string()};
    argv.insert(argv.end(), args.begin(), args.end());
    return run_command(argv);
  }
  std::string which_server() { return connect_proxy().query_value(kWhichServer); }

  std::filesystem::path dir_;
  uint16_t admin_port_ = 0;
};

}  // namespace cutover::testing
