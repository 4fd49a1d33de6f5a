#include "proxy/server/server.h"

#include <csignal>
#include <cstdlib>

#include "proxy/base/log.h"
#include "proxy/net/spawn.h"

namespace cutover::proxy {
namespace {

unsigned thread_count(unsigned configured) {
  if (configured > 0) return configured;
  return std::max(1u, std::thread::hardware_concurrency());
}

}  // namespace

Server::Server(const Config& config, std::string config_path)
    : config_(config),
      config_path_(std::move(config_path)),
      log_level_(config.log.level),
      context_(config, load_secrets(config)),
      workers_([&] {
        std::vector<std::unique_ptr<Worker>> workers;
        for (unsigned i = 0; i < thread_count(config.threads); ++i) {
          workers.push_back(std::make_unique<Worker>());
        }
        return workers;
      }()),
      acceptor_(workers_[0]->io),
      signals_(workers_[0]->io, SIGTERM, SIGINT),
      reload_signals_(workers_[0]->io, SIGHUP),
      shutdown_deadline_(workers_[0]->io) {
  for (auto& w : workers_) keep_alive_.push_back(asio::make_work_guard(w->io));
  const ControlState::Snapshot state = context_.control.snapshot();
  log::info(context_.control.restored() ? "state_restored" : "state_initial",
            {{"phase", router::to_string(state.phase)},
             {"read_ramp_percent", state.read_ramp / 100.0},
             {"version", state.version},
             {"store", context_.control.store()}});
  if (context_.mirroring) verifier_ = std::make_unique<Verifier>(config, context_);
  if (config.admin.port != 0 || !config.admin.token_file.empty()) {
    AdminView view{.clients = [this] { return admitted_clients_.load(); },
                   .draining = [this] { return stopping_.load(); }};
    if (verifier_ != nullptr) {
      view.start_verification = [this]() -> std::optional<uint64_t> {
        const uint64_t next = verifier_->next_pass();
        return verifier_->start() ? std::optional(next) : std::nullopt;
      };
      view.verification_report = [this] { return verifier_->report(); };
    }
    admin_ = std::make_unique<AdminServer>(config, context_.control, context_, std::move(view));
  }
}

Server::~Server() = default;

void Server::listen() {
  const auto& where = config_.listen;
  ErrorCode ec;
  auto address = asio::ip::make_address(where.address, ec);
  tcp::endpoint endpoint(address, where.port);
  auto fail_if = [&](const char* step) {
    if (ec) {
      throw std::runtime_error("cannot " + std::string(step) + " " + where.address + ":" +
                               std::to_string(where.port) + ": " + ec.message());
    }
  };
  fail_if("parse the listen address");
  acceptor_.open(endpoint.protocol(), ec);
  fail_if("open a socket for");
  acceptor_.set_option(tcp::acceptor::reuse_address(true), ec);
  acceptor_.bind(endpoint, ec);
  fail_if("listen on");
  acceptor_.listen(asio::socket_base::max_listen_connections, ec);
  fail_if("listen on");
  if (admin_ != nullptr && config_.admin.port != 0) admin_->listen();
  log::info("listening", {{"address", where.address},
                          {"port", acceptor_.local_endpoint().port()},
                          {"threads", workers_.size()},
                          {"old", config_.backends.old_db.host + ":" +
                                      std::to_string(config_.backends.old_db.port)}});
}

int Server::run() {
  const LogEscaped log_escape("internal_error");
  asio::co_spawn(workers_[0]->io, accept_loop(), log_escape);
  asio::co_spawn(workers_[0]->io, watch_signals(), log_escape);
  asio::co_spawn(workers_[0]->io, watch_reload(), log_escape);
  if (context_.journal != nullptr) {
    asio::co_spawn(workers_[0]->io,
                   context_.journal->run_replay([this] { return context_.secrets(); }), log_escape);
  }
  if (context_.sequences != nullptr) {
    asio::co_spawn(workers_[0]->io, context_.sequences->run([this] { return context_.secrets(); }),
                   log_escape);
  }
  // A process serving one database has no second one to switch to.
  if (context_.mirroring) asio::co_spawn(workers_[0]->io, watch_roles(), log_escape);
  for (size_t i = 1; i < workers_.size(); ++i) {
    workers_[i]->thread = std::thread([w = workers_[i].get()] { w->io.run(); });
  }
  if (admin_ != nullptr && admin_->port() != 0) admin_->start();
  workers_[0]->io.run();
  for (auto& w : workers_) {
    if (w->thread.joinable()) w->thread.join();
  }
  if (admin_ != nullptr) admin_->stop();
  log::info("stopped");
  return 0;
}

asio::awaitable<void> Server::accept_loop() {
  for (;;) {
    Worker& worker = *workers_[next_worker_];
    next_worker_ = (next_worker_ + 1) % workers_.size();
    Socket socket(worker.io);
    auto [ec] = co_await acceptor_.async_accept(socket);
    if (stopping_) co_return;
    if (ec) {
      // Out of descriptors or similar: pause rather than spin on a failing accept.
      log::error("accept_failed", {{"error", ec.message()}});
      co_await sleep_for(std::chrono::milliseconds(100));
      continue;
    }
    start_session(worker, std::move(socket));
  }
}

void Server::start_session(Worker& worker, Socket socket) {
  bool admitted = admitted_clients_.fetch_add(1) < config_.listen.max_clients;
  if (!admitted) admitted_clients_.fetch_sub(1);
  open_sessions_.fetch_add(1);
  // A session is built, run and destroyed on its worker's thread only.
  asio::post(worker.io, [this, &worker, admitted, socket = std::move(socket)]() mutable {
    auto session =
        std::make_unique<Session>(std::move(socket), context_, worker.sessions, admitted);
    Session* raw = session.get();
    asio::co_spawn(
        worker.io, raw->run(),
        [this, admitted, owned = std::move(session)](const std::exception_ptr& e) mutable {
          LogEscaped("session_failed")(e);
          owned.reset();
          if (admitted) admitted_clients_.fetch_sub(1);
          if (open_sessions_.fetch_sub(1) == 1) finish_shutdown_when_idle();
        });
  });
}

asio::awaitable<void> Server::watch_signals() {
  auto [ec, signal] = co_await signals_.async_wait(Token{});
  if (ec) co_return;
  log::info("shutdown_requested", {{"signal", signal},
                                   {"sessions", open_sessions_.load()},
                                   {"deadline_ms", config_.timeouts.shutdown.count()}});
  begin_shutdown();
  auto [ec2, second] = co_await signals_.async_wait(Token{});
  if (ec2) co_return;
  log::warn("shutdown_forced", {{"signal", second}, {"sessions", open_sessions_.load()}});
  std::_Exit(1);
}

// SIGHUP re-reads the files the configuration names (TLS certificate and key, users file,
// password files); the configuration itself is fixed for the process's life. Sessions keep the
// set they started with, so nothing in flight is disturbed, and a set that fails to load
// leaves the current one in place.
asio::awaitable<void> Server::watch_reload() {
  for (;;) {
    auto [ec, signal] = co_await reload_signals_.async_wait(Token{});
    if (ec) co_return;
    try {
      auto secrets = load_secrets(config_);
      size_t users = secrets->users.size();
      if (admin_ != nullptr) admin_->reload_token();  // throws, changing nothing, when unreadable
      context_.replace_secrets(std::move(secrets));
      log::info("reloaded",
                {{"users", users}, {"admin_token", admin_ != nullptr ? "reloaded" : "none"}});
    } catch (const std::exception& e) {
      log::error("reload_failed", {{"error", e.what()}});
    }
    reload_live_settings();
  }
}

// The configuration file read again: the log level and the live settings (live_settings.h)
// apply at once, each change logged; any other change is reported, to apply at the next start.
void Server::reload_live_settings() {
  try {
    Config fresh = load_config_file(config_path_);
    if (fresh.log.level != log_level_) {
      log::set_level(log::parse_level(fresh.log.level));
      log::write(log::Level::kInfo, "log_level_changed",
                 {{"from", log_level_}, {"to", fresh.log.level}});
      log_level_ = fresh.log.level;
    }
    for (const auto& change : context_.live.apply(fresh)) {
      log::info("setting_changed", {{"key", change.key}, {"from", change.from}, {"to", change.to}});
    }
    if (to_yaml(without_live_settings(fresh, config_)) != to_yaml(config_)) {
      log::warn("reload_needs_restart",
                {{"reason", "settings that cannot change live changed in " + config_path_ +
                                ": they apply at the next start"}});
    }
  } catch (const std::exception& e) {
    log::error("reload_failed", {{"error", e.what()}});
  }
}

void Server::begin_shutdown() {
  stopping_ = true;
  ErrorCode ignored;
  acceptor_.close(ignored);
  for_each_session(&Session::drain);
  keep_alive_.clear();
  shutdown_deadline_.expires_after(config_.timeouts.shutdown);
  shutdown_deadline_.async_wait([this](ErrorCode ec) {
    if (ec) return;
    log::warn("shutdown_deadline", {{"sessions", open_sessions_.load()}});
    for_each_session(&Session::terminate);
  });
  finish_shutdown_when_idle();
}

void Server::finish_shutdown_when_idle() {
  if (!stopping_ || open_sessions_.load() != 0) return;
  // The last session is gone: stop waiting for the deadline and for a second signal.
  if (context_.journal != nullptr) context_.journal->stop();
  if (context_.sequences != nullptr) context_.sequences->stop();
  asio::post(workers_[0]->io, [this] {
    shutdown_deadline_.cancel();
    signals_.cancel();
    reload_signals_.cancel();
  });
}

void Server::for_each_session(void (Session::*action)()) {
  for (auto& w : workers_) {
    asio::post(w->io, [w = w.get(), action] {
      for (Session* s : w->sessions) (s->*action)();
    });
  }
}

}  // namespace cutover::proxy
