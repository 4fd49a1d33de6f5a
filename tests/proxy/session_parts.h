// What a session's objects are made of, for unit tests against scripted servers: a
// ProxyContext in dual_write over a temporary directory (journal, mismatch log, phase), the
// client's connection (the test reads the other end), the two BackendLinks, the Secondary
// logged in to a ScriptedServer playing new, and FakeOld playing old's side of the session
// (Mirror::Host): it answers like a server that accepts every statement and records what it
// was sent. The same paths against real servers are the integration suite's.
#pragma once

#include <gtest/gtest.h>

#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "proxy/auth/credentials.h"
#include "proxy/base/config.h"
#include "proxy/link/backend_link.h"
#include "proxy/link/client_link.h"
#include "proxy/link/secondary.h"
#include "proxy/migration/proxy_context.h"
#include "proxy/mirror/mirror.h"
#include "proxy/mirror/pinner.h"
#include "tests/proxy/scripted_server.h"

namespace cutover::proxy {

class FakeOld final : public Mirror::Host {
 public:
  explicit FakeOld(BackendLink& primary) : primary_(primary) {}

  char transaction_status() const override { return primary_.status; }
  asio::awaitable<std::optional<HeldAnswer>> query_own(std::string_view sql) override;
  asio::awaitable<bool> run_own(std::string_view messages) override;
  asio::awaitable<bool> forward_to_old(std::string& pending) override;
  asio::awaitable<std::optional<HeldAnswer>> run_on_old(std::string_view messages,
                                                        int units) override;
  asio::awaitable<bool> wait_for_old() override { co_return true; }
  std::optional<HeldAnswer> take_kept_answer() override { return std::exchange(kept_, {}); }
  asio::awaitable<bool> send_ready_to_client(char status) override;

  std::vector<std::string> queries;  // every Query text old was sent, in order
  // ... except the mirror's questions for a table's key (effect_planner.h), kept apart
  std::vector<std::string> key_questions;
  std::vector<char> readies;       // the ReadyForQuery statuses the client was sent
  std::function<void()> on_ready;  // called as each of them goes out

 private:
  HeldAnswer run(std::string_view messages);
  static HeldAnswer answer_to_ask(char status);

  BackendLink& primary_;
  std::optional<HeldAnswer> kept_;  // the answer to cutover's question for old's id
};

class SessionPartsTest : public ::testing::Test {
 protected:
  SessionPartsTest();
  ~SessionPartsTest() override;

  // Starts new as `script` plays it, and logs the secondary in there.
  void start_new(ScriptedServer::Script script, std::string_view extra_config = "");
  // Runs `work` on the parts' io_context until it is done.
  template <typename T>
  T run(asio::awaitable<T> work) {
    auto result = asio::co_spawn(io_, std::move(work), asio::use_future);
    io_.restart();
    io_.run();
    return result.get();
  }
  // What the client has been sent so far (read without waiting).
  std::string client_received();
  std::vector<verify::JournalRecord> journal() const;

  std::filesystem::path dir_;
  asio::io_context io_;
  std::unique_ptr<ScriptedServer> new_server_;
  Config config_;
  std::shared_ptr<const Secrets> secrets_;
  std::unique_ptr<ProxyContext> context_;
  std::optional<tcp::socket> client_peer_;  // the application's end of the client connection
  std::unique_ptr<ClientLink> client_;
  BackendLink primary_{io_.get_executor()};
  BackendLink secondary_{io_.get_executor()};
  std::optional<ClientKey> client_key_;
  std::unique_ptr<Secondary> new_side_;
  FakeOld old_{primary_};
  std::unique_ptr<Pinner> pinner_;
  std::unique_ptr<Mirror> mirror_;
  std::string database_ = "app";
  std::string user_ = "app";
};

}  // namespace cutover::proxy
