// The two control stores. The file store writes a new file, fsyncs it, renames it over the old
// one and fsyncs the directory, so a crash leaves one whole state or the other. The database
// store keeps one row in `cutover_control`; a change is an UPDATE that only succeeds from the
// version the instance saw, with a NOTIFY in the same statement, and every instance LISTENs
// on its own connection (libpq, on a thread of the store's) and also reads the row every
// second, in case a notification was lost with a connection.
#include "proxy/control/control_store.h"

#include <libpq-fe.h>
#include <poll.h>

#include <atomic>
#include <boost/json.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <system_error>
#include <thread>

#include "proxy/base/log.h"
#include "verify/durable_file.h"

namespace cutover::proxy {
namespace {

namespace json = boost::json;
using Clock = std::chrono::steady_clock;

class FileStore final : public ControlStore {
 public:
  explicit FileStore(std::string path) : path_(std::move(path)) {}

  std::optional<ControlSnapshot> load(const ControlSnapshot&) override {
    std::ifstream in(path_);
    if (!in) {
      if (std::filesystem::exists(path_)) fail("cannot be read");
      return std::nullopt;
    }
    std::stringstream text;
    text << in.rdbuf();
    return parse(text.str());
  }

  std::optional<std::string> save(const ControlSnapshot& next, uint64_t) override {
    json::object o;
    o["phase"] = std::string(router::to_string(next.phase));
    o["read_ramp_basis_points"] = next.read_ramp;
    o["version"] = next.version;
    o["changed_unix_ms"] = next.changed_unix_ms;
    return replace_file(json::serialize(o) + "\n");
  }

  void watch(std::function<void(const ControlSnapshot&)>) override {}  // no other instance
  std::string describe() const override { return "file " + path_; }

 private:
  [[noreturn]] void fail(const std::string& why) const {
    throw std::runtime_error("state file " + path_ + ": " + why);
  }

  ControlSnapshot parse(const std::string& text) const {
    boost::system::error_code ec;
    json::value value = json::parse(text, ec);
    if (ec || !value.is_object()) fail("not a JSON object");
    const json::object& o = value.get_object();
    const json::value* phase = o.if_contains("phase");
    const json::value* ramp = o.if_contains("read_ramp_basis_points");
    const json::value* version = o.if_contains("version");
    const json::value* changed = o.if_contains("changed_unix_ms");
    if (phase == nullptr || !phase->is_string()) fail("no phase");
    auto parsed = router::parse_phase(std::string_view(phase->get_string()));
    if (!parsed) fail("unknown phase '" + std::string(phase->get_string()) + "'");
    if (ramp == nullptr || !ramp->is_int64() || ramp->get_int64() < 0 ||
        ramp->get_int64() > 10000) {
      fail("read_ramp_basis_points must be 0..10000");
    }
    if (version == nullptr || !version->is_int64() || version->get_int64() < 0) fail("no version");
    return {
        .phase = *parsed,
        .read_ramp = static_cast<uint32_t>(ramp->get_int64()),
        .version = static_cast<uint64_t>(version->get_int64()),
        .changed_unix_ms = changed != nullptr && changed->is_int64() ? changed->get_int64() : 0};
  }

  std::optional<std::string> replace_file(const std::string& text) const {
    const std::filesystem::path target(path_);
    std::error_code created;
    if (target.has_parent_path())
      std::filesystem::create_directories(target.parent_path(), created);
    if (created) return "cannot create " + target.parent_path().string() + ": " + created.message();
    try {
      verify::replace_file(target, text);
    } catch (const std::system_error& e) {
      return e.what();
    }
    return std::nullopt;
  }

  std::string path_;
};

struct ConnectionCloser {
  void operator()(PGconn* c) const { PQfinish(c); }
};
using Connection = std::unique_ptr<PGconn, ConnectionCloser>;
struct ResultClearer {
  void operator()(PGresult* r) const { PQclear(r); }
};
using Result = std::unique_ptr<PGresult, ResultClearer>;

constexpr char kSelect[] =
    "SELECT phase, read_ramp_basis_points, version, changed_unix_ms FROM cutover_control "
    "WHERE id = 1";

class DatabaseStore final : public ControlStore {
 public:
  explicit DatabaseStore(std::string conninfo) : conninfo_(std::move(conninfo)) {}
  ~DatabaseStore() override { stop(); }

  std::optional<ControlSnapshot> load(const ControlSnapshot& initial) override {
    std::string error;
    writer_ = connect(error);
    if (!writer_) fail(error);
    exec(writer_.get(),
         "CREATE TABLE IF NOT EXISTS cutover_control (id int PRIMARY KEY CHECK (id = 1), "
         "phase text NOT NULL, read_ramp_basis_points int NOT NULL, version bigint NOT NULL, "
         "changed_unix_ms bigint NOT NULL)",
         {});
    const std::string phase(router::to_string(initial.phase));
    const std::string ramp = std::to_string(initial.read_ramp);
    Result inserted = exec(writer_.get(),
                           "INSERT INTO cutover_control VALUES (1, $1, $2, 0, 0) "
                           "ON CONFLICT (id) DO NOTHING RETURNING id",
                           {phase.c_str(), ramp.c_str()});
    const bool fresh = PQntuples(inserted.get()) == 1;
    std::optional<ControlSnapshot> stored = read(writer_.get(), error);
    if (!stored) fail(error);
    if (fresh) return std::nullopt;  // this instance stored the configuration's state
    return stored;
  }

  std::optional<std::string> save(const ControlSnapshot& next, uint64_t expected_version) override {
    std::string error;
    if (!writer_ || PQstatus(writer_.get()) != CONNECTION_OK) writer_ = connect(error);
    if (!writer_) return "the control database is unreachable: " + error;
    const std::string phase(router::to_string(next.phase));
    const std::string ramp = std::to_string(next.read_ramp);
    const std::string version = std::to_string(next.version);
    const std::string changed = std::to_string(next.changed_unix_ms);
    const std::string expected = std::to_string(expected_version);
    const char* values[] = {phase.c_str(), ramp.c_str(), version.c_str(), changed.c_str(),
                            expected.c_str()};
    Result result(PQexecParams(
        writer_.get(),
        "WITH changed AS (UPDATE cutover_control SET phase = $1, read_ramp_basis_points = $2, "
        "version = $3, changed_unix_ms = $4 WHERE id = 1 AND version = $5 RETURNING version) "
        "SELECT pg_catalog.pg_notify('cutover_control', version::text) FROM changed",
        5, nullptr, values, nullptr, nullptr, 0));
    if (PQresultStatus(result.get()) != PGRES_TUPLES_OK) {
      return std::string("the control database refused the change: ") +
             PQerrorMessage(writer_.get());
    }
    if (PQntuples(result.get()) != 1) {
      return "another instance changed the state first (version " + expected + " is gone)";
    }
    return std::nullopt;
  }

  void watch(std::function<void(const ControlSnapshot&)> changed) override {
    changed_ = std::move(changed);
    watcher_ = std::thread([this] { run_watcher(); });
  }

  void stop() override {
    stopping_ = true;
    if (watcher_.joinable()) watcher_.join();
  }

  std::string describe() const override { return "control database"; }

 private:
  [[noreturn]] static void fail(const std::string& why) {
    throw std::runtime_error("control database: " + why);
  }

  Connection connect(std::string& error) const {
    Connection c(PQconnectdb(conninfo_.c_str()));
    if (PQstatus(c.get()) != CONNECTION_OK) {
      error = PQerrorMessage(c.get());
      while (!error.empty() && error.back() == '\n') error.pop_back();
      return nullptr;
    }
    return c;
  }

  static Result exec(PGconn* c, const char* sql, const std::vector<const char*>& values) {
    Result r(PQexecParams(c, sql, static_cast<int>(values.size()), nullptr, values.data(), nullptr,
                          nullptr, 0));
    const auto status = PQresultStatus(r.get());
    if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) fail(PQerrorMessage(c));
    return r;
  }

  static std::optional<ControlSnapshot> read(PGconn* c, std::string& error) {
    Result r(PQexec(c, kSelect));
    if (PQresultStatus(r.get()) != PGRES_TUPLES_OK || PQntuples(r.get()) != 1) {
      error = PQresultStatus(r.get()) == PGRES_TUPLES_OK ? "no state row" : PQerrorMessage(c);
      return std::nullopt;
    }
    auto phase = router::parse_phase(PQgetvalue(r.get(), 0, 0));
    if (!phase) {
      error = std::string("unknown phase '") + PQgetvalue(r.get(), 0, 0) + "'";
      return std::nullopt;
    }
    return ControlSnapshot{
        .phase = *phase,
        .read_ramp = static_cast<uint32_t>(std::stoul(PQgetvalue(r.get(), 0, 1))),
        .version = std::stoull(PQgetvalue(r.get(), 0, 2)),
        .changed_unix_ms = std::stoll(PQgetvalue(r.get(), 0, 3))};
  }

  // LISTENs, reads the row on every notification and every kPoll, and reconnects after a
  // failure, until stop().
  void run_watcher() {
    constexpr auto kPoll = std::chrono::seconds(1);
    constexpr int kWaitMs = 200;  // how soon stop() is noticed
    Connection listener;
    bool reported = false;  // the outage was logged
    auto last_read = Clock::now() - kPoll;
    while (!stopping_) {
      std::string error;
      if (!listener) {
        listener = connect(error);
        if (listener) {
          Result r(PQexec(listener.get(), "LISTEN cutover_control"));
          if (PQresultStatus(r.get()) != PGRES_COMMAND_OK) listener.reset();
        }
        if (!listener) {
          if (!std::exchange(reported, true)) {
            log::warn("control_database_unreachable", {{"error", error}});
          }
          std::this_thread::sleep_for(std::chrono::seconds(1));
          continue;
        }
      }
      pollfd fd{.fd = PQsocket(listener.get()), .events = POLLIN, .revents = 0};
      ::poll(&fd, 1, kWaitMs);
      bool notified = false;
      if (PQconsumeInput(listener.get()) == 0) {
        listener.reset();
        continue;
      }
      while (PGnotify* n = PQnotifies(listener.get())) {
        notified = true;
        PQfreemem(n);
      }
      if (!notified && Clock::now() - last_read < kPoll) continue;
      last_read = Clock::now();
      auto stored = read(listener.get(), error);
      if (!stored) {
        listener.reset();
        continue;
      }
      if (std::exchange(reported, false)) log::info("control_database_reachable");
      changed_(*stored);
    }
  }

  const std::string conninfo_;
  Connection writer_;  // load() and save(): the admin port's thread
  std::function<void(const ControlSnapshot&)> changed_;
  std::atomic<bool> stopping_{false};
  std::thread watcher_;
};

}  // namespace

std::unique_ptr<ControlStore> make_control_store(const std::string& store) {
  constexpr std::string_view kFile = "file:";
  if (store.starts_with(kFile)) return std::make_unique<FileStore>(store.substr(kFile.size()));
  return std::make_unique<DatabaseStore>(store);
}

}  // namespace cutover::proxy
