// A PostgreSQL server played by a unit test, over a real loopback connection: it accepts one
// connection, lets the login in (AuthenticationOk, a cancel key, ReadyForQuery), then answers
// each message the client sends as the test's script says: bytes to write back, and whether
// to close the connection instead (a server that dies, or a network that drops). What the
// session's objects see is exactly what they would see from PostgreSQL saying those bytes.
// Runs on a thread of its own with blocking sockets. Not a PostgreSQL: the real-server tests
// are the integration suite's.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace cutover::proxy {

class ScriptedServer {
 public:
  struct Reply {
    std::string bytes{};  // written back (nothing: the server says nothing, yet)
    bool close = false;   // then the connection is closed
  };
  // Called for each whole message after the login, with its type and body.
  using Script = std::function<Reply(char type, std::string_view body)>;

  explicit ScriptedServer(Script script);
  ~ScriptedServer();
  ScriptedServer(const ScriptedServer&) = delete;
  ScriptedServer& operator=(const ScriptedServer&) = delete;

  uint16_t port() const { return port_; }
  // The text of every Query received after the login, in order.
  std::vector<std::string> queries() const;

 private:
  void serve();
  bool login();
  void record(char type, std::string_view body);

  Script script_;
  boost::asio::io_context io_;
  boost::asio::ip::tcp::acceptor acceptor_;
  boost::asio::ip::tcp::socket socket_;
  uint16_t port_ = 0;
  mutable std::mutex mutex_;
  std::vector<std::string> queries_;
  std::thread thread_;
};

// What a server says, for scripts.
std::string complete(std::string_view tag);  // CommandComplete
std::string ready(char status);              // ReadyForQuery
std::string error(std::string_view sqlstate, std::string_view message);
std::string row(std::string_view column, std::string_view value);  // RowDescription + DataRow

std::string_view sql_of_query(std::string_view body);  // of a Query message's body

}  // namespace cutover::proxy
