// The admin port's HTTP transport (Boost.Beast, HTTP/1.1 with keep-alive) and its thread;
// what it answers is in admin_api.cpp.
#include "proxy/admin/admin_server.h"

#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "proxy/base/log.h"
#include "proxy/migration/proxy_context.h"
#include "proxy/net/spawn.h"

namespace cutover::proxy {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;

constexpr size_t kMaxBody = size_t{64} * 1024;  // an admin request is a few bytes of JSON
constexpr auto kRequestTimeout = std::chrono::seconds(30);
constexpr auto kSampleEvery = std::chrono::seconds(5);  // of the comparator's mismatch count

std::string read_token(const std::string& path) {
  if (path.empty()) return "";
  std::ifstream in(path);
  if (!in) throw std::runtime_error("admin.token_file: cannot read " + path);
  std::stringstream text;
  text << in.rdbuf();
  std::string token = text.str();
  while (!token.empty() && (token.back() == '\n' || token.back() == '\r' || token.back() == ' ')) {
    token.pop_back();
  }
  if (token.empty()) throw std::runtime_error("admin.token_file: " + path + " is empty");
  return token;
}

}  // namespace

AdminServer::AdminServer(const Config& config, ControlState& control, ProxyContext& context,
                         AdminView view)
    : config_(config),
      control_(control),
      context_(context),
      view_(std::move(view)),
      token_(read_token(config.admin.token_file)) {}

AdminServer::~AdminServer() { stop(); }

void AdminServer::reload_token() {
  std::string token = read_token(config_.admin.token_file);
  std::lock_guard lock(token_mutex_);
  token_ = std::move(token);
}

void AdminServer::listen() {
  ErrorCode ec;
  const auto address = asio::ip::make_address(config_.admin.address, ec);
  const std::string where = config_.admin.address + ":" + std::to_string(config_.admin.port);
  if (ec) throw std::runtime_error("admin.address: not an address: " + config_.admin.address);
  const tcp::endpoint endpoint(address, config_.admin.port);
  acceptor_.open(endpoint.protocol(), ec);
  if (!ec) acceptor_.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) acceptor_.bind(endpoint, ec);
  if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) throw std::runtime_error("admin port: cannot listen on " + where + ": " + ec.message());
  port_ = acceptor_.local_endpoint().port();
  log::info("admin_listening", {{"address", config_.admin.address}, {"port", port_}});
}

void AdminServer::start() {
  asio::co_spawn(io_, accept_loop(), LogEscaped("admin_failed"));
  asio::co_spawn(io_, sample_counts(), LogEscaped("admin_failed"));
  thread_ = std::thread([this] { io_.run(); });
}

void AdminServer::stop() {
  if (!thread_.joinable()) return;
  io_.stop();
  thread_.join();
}

asio::awaitable<void> AdminServer::accept_loop() {
  for (;;) {
    auto [ec, socket] = co_await acceptor_.async_accept(asio::as_tuple(asio::use_awaitable));
    if (ec == asio::error::operation_aborted) co_return;
    if (ec) continue;  // a connection that went away before it was accepted
    asio::co_spawn(io_, serve(std::move(socket)), LogEscaped("admin_request_failed"));
  }
}

asio::awaitable<void> AdminServer::serve(tcp::socket socket) {
  ErrorCode ignored;
  const auto peer = socket.remote_endpoint(ignored);
  beast::tcp_stream stream(std::move(socket));
  beast::flat_buffer buffer;
  for (;;) {
    stream.expires_after(kRequestTimeout);
    http::request_parser<http::string_body> parser;
    parser.body_limit(kMaxBody);
    auto [read_error, bytes] =
        co_await http::async_read(stream, buffer, parser, asio::as_tuple(asio::use_awaitable));
    if (read_error) break;
    const auto& request = parser.get();
    const AdminResponse answer =
        handle({.method = std::string(request.method_string()),
                .target = std::string(request.target()),
                .authorization = std::string(request[http::field::authorization]),
                .operator_name = std::string(request["X-Cutover-Operator"]),
                .remote = peer.address().to_string(),
                .body = request.body()});
    http::response<http::string_body> response{static_cast<http::status>(answer.status),
                                               request.version()};
    response.set(http::field::server, "cutover");
    response.set(http::field::content_type, answer.content_type);
    response.keep_alive(request.keep_alive());
    response.body() = answer.body;
    response.prepare_payload();
    auto [write_error, written] =
        co_await http::async_write(stream, response, asio::as_tuple(asio::use_awaitable));
    if (write_error || !response.keep_alive()) break;
  }
  stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
}

// Keeps (time, counts so far) over the promotion window, so readiness can tell how many
// mismatches and fallbacks the window holds.
asio::awaitable<void> AdminServer::sample_counts() {
  asio::steady_timer timer(io_);
  for (;;) {
    {
      const auto now = std::chrono::steady_clock::now();
      const Counts counts = counts_now();
      std::lock_guard lock(samples_mutex_);
      samples_.emplace_back(now, counts);
      while (samples_.size() > 1 && now - samples_[1].first >= config_.control.promotion_window) {
        samples_.pop_front();
      }
    }
    timer.expires_after(kSampleEvery);
    auto [ec] = co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
    if (ec) co_return;
  }
}

AdminServer::Counts AdminServer::counts_now() const {
  return {.mismatches = context_.comparator != nullptr ? context_.comparator->mismatches() : 0,
          .fallbacks = context_.metrics.read_fallbacks()};
}

// The counts since the oldest sample still in the window (since start, in a younger process).
AdminServer::Counts AdminServer::counts_in_window() const {
  const Counts now = counts_now();
  std::lock_guard lock(samples_mutex_);
  if (samples_.empty()) return now;
  const Counts& then = samples_.front().second;
  return {.mismatches = now.mismatches - then.mismatches,
          .fallbacks = now.fallbacks - then.fallbacks};
}

}  // namespace cutover::proxy
