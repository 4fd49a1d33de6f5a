// A stand-in for the cutover binary, used only to test CutoverProcess itself: it understands
// `run --config FILE`, reads "listen_port: N" and "exit_code: N" lines, listens, and exits 0 on
// SIGTERM. Not a proxy and not a database fake: it never speaks the PostgreSQL protocol.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

namespace {

volatile sig_atomic_t g_stop = 0;

void on_term(int /*sig*/) { g_stop = 1; }

// Value of the first "key: N" line, or fallback.
int config_int(const std::string& path, const std::string& key, int fallback) {
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    if (line.starts_with(key + ":")) return std::stoi(line.substr(key.size() + 1));
  }
  return fallback;
}

}  // namespace

int main(int argc, char** argv) {
  const std::vector<std::string> args(argv, argv + argc);  // NOLINT: argv is a C array
  if (args.size() < 4 || args[1] != "run" || args[2] != "--config") {
    std::fprintf(stderr, "usage: fake_cutover run --config FILE\n");
    return 2;
  }
  const std::string& config = args[3];
  if (int code = config_int(config, "exit_code", -1); code >= 0) {
    std::printf("exiting early with %d\n", code);
    return code;
  }
  // A little memory to make rss_kb() and peak_rss_kb() worth comparing.
  std::vector<char> ballast(8 << 20, 1);

  struct sigaction action {};
  action.sa_handler = on_term;
  sigaction(SIGTERM, &action, nullptr);  // no SA_RESTART: accept() returns EINTR

  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(config_int(config, "listen_port", 0)));
  // A slow start, so tests see the harness wait for the listener rather than for the process.
  ::usleep(200 * 1000);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || ::listen(fd, 16) != 0) {
    std::perror("bind/listen");
    return 1;
  }
  std::printf("listening on %d with %zu bytes of ballast\n", ntohs(addr.sin_port), ballast.size());
  std::fflush(stdout);
  while (g_stop == 0) {
    int client = ::accept(fd, nullptr, nullptr);
    if (client >= 0) ::close(client);
  }
  std::printf("stopping on SIGTERM\n");
  return 0;
}
