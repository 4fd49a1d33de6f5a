#include "tests/proxy/scripted_server.h"

#include <sys/socket.h>

#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <limits>

#include "protocol/backend.h"
#include "protocol/framing.h"

namespace cutover::proxy {
namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

constexpr int32_t kSslRequest = 80877103;
constexpr int32_t kGssEncRequest = 80877104;

int32_t read_int32(const char* p) {
  return static_cast<int32_t>((static_cast<uint32_t>(static_cast<uint8_t>(p[0])) << 24) |
                              (static_cast<uint32_t>(static_cast<uint8_t>(p[1])) << 16) |
                              (static_cast<uint32_t>(static_cast<uint8_t>(p[2])) << 8) |
                              static_cast<uint32_t>(static_cast<uint8_t>(p[3])));
}

}  // namespace

ScriptedServer::ScriptedServer(Script script)
    : script_(std::move(script)),
      acceptor_(io_, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)),
      socket_(io_),
      port_(acceptor_.local_endpoint().port()),
      thread_([this] { serve(); }) {}

// Blocking calls on the server's thread end when their sockets are shut down.
ScriptedServer::~ScriptedServer() {
  ::shutdown(acceptor_.native_handle(), SHUT_RDWR);
  {
    std::lock_guard lock(mutex_);
    if (socket_.is_open()) ::shutdown(socket_.native_handle(), SHUT_RDWR);
  }
  thread_.join();
}

std::vector<std::string> ScriptedServer::queries() const {
  std::lock_guard lock(mutex_);
  return queries_;
}

void ScriptedServer::serve() {
  boost::system::error_code ec;
  tcp::socket accepted(io_);
  acceptor_.accept(accepted, ec);
  if (ec) return;
  {
    std::lock_guard lock(mutex_);
    socket_ = std::move(accepted);
  }
  if (!login()) return;
  std::string in;
  char chunk[65536];
  for (;;) {
    const size_t n = socket_.read_some(asio::buffer(chunk), ec);
    if (ec) return;
    in.append(chunk, n);
    for (;;) {
      const auto frame = protocol::next_frame(in, std::numeric_limits<size_t>::max());
      if (frame.status != protocol::FrameStatus::kFrame) break;
      const std::string body(frame.body);
      const char type = frame.type;
      in.erase(0, frame.consumed);
      if (type == 'X') return;
      record(type, body);
      const Reply reply = script_(type, body);
      if (!reply.bytes.empty()) asio::write(socket_, asio::buffer(reply.bytes), ec);
      if (reply.close || ec) {
        std::lock_guard lock(mutex_);
        socket_.close(ec);
        return;
      }
    }
  }
}

// The startup packet (after declining an encryption request), then trust.
bool ScriptedServer::login() {
  boost::system::error_code ec;
  for (;;) {
    char length[4];
    asio::read(socket_, asio::buffer(length), ec);
    if (ec) return false;
    std::string packet(static_cast<size_t>(read_int32(length)) - 4, '\0');
    asio::read(socket_, asio::buffer(packet), ec);
    if (ec || packet.size() < 4) return false;
    const int32_t code = read_int32(packet.data());
    if (code != kSslRequest && code != kGssEncRequest) break;
    asio::write(socket_, asio::buffer("N", 1), ec);
    if (ec) return false;
  }
  std::string out;
  protocol::encode(protocol::AuthenticationOk{}, out);
  protocol::encode(protocol::ParameterStatus{"standard_conforming_strings", "on"}, out);
  protocol::encode(protocol::BackendKeyData{4711, 815}, out);
  out += ready('I');
  asio::write(socket_, asio::buffer(out), ec);
  return !ec;
}

void ScriptedServer::record(char type, std::string_view body) {
  if (type != 'Q') return;
  std::lock_guard lock(mutex_);
  queries_.emplace_back(sql_of_query(body));
}

std::string complete(std::string_view tag) {
  std::string out;
  protocol::encode(protocol::CommandComplete{std::string(tag)}, out);
  return out;
}

std::string ready(char status) {
  std::string out;
  protocol::encode(protocol::ReadyForQuery{status}, out);
  return out;
}

std::string error(std::string_view sqlstate, std::string_view message) {
  std::string out;
  protocol::encode_error(out, "ERROR", sqlstate, message);
  return out;
}

std::string row(std::string_view column, std::string_view value) {
  std::string out;
  protocol::encode(protocol::RowDescription{{{.name = std::string(column), .type_oid = 25}}}, out);
  protocol::encode(protocol::DataRow{{std::string(value)}}, out);
  return out;
}

std::string_view sql_of_query(std::string_view body) { return body.substr(0, body.find('\0')); }

}  // namespace cutover::proxy
