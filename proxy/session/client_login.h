// The client's side of a session's start, as one coroutine: the startup packet (a
// CancelRequest forwarded, SSL and GSS encryption requests answered, TLS accepted), the client
// limit, cutover's own authentication of the client (trust, md5, SCRAM-SHA-256 with channel
// binding, against the users file or auth_query) and the checks PostgreSQL makes (a user name,
// the database). Every refusal reaches the client as PostgreSQL would word it, and the log.
// Not the logins to the servers (session_startup.cpp, proxy/auth/backend_login.h).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "protocol/framing.h"
#include "protocol/scram.h"
#include "protocol/startup.h"
#include "proxy/auth/credentials.h"
#include "proxy/link/client_link.h"
#include "proxy/migration/proxy_context.h"
#include "proxy/net/asio.h"

namespace cutover::proxy {

class ClientLogin {
 public:
  // A client cutover let in: its startup message, and for SCRAM pass-through (auth.method
  // passthrough) the ClientKey it proved and the verifier it was checked against, which
  // cutover's logins to the servers reuse.
  struct Accepted {
    protocol::StartupMessage startup;
    std::string user;
    std::string database;
    std::optional<protocol::scram::Key> client_key{};
    std::optional<protocol::scram::Verifier> verifier{};
  };

  ClientLogin(ClientLink& client, ProxyContext& context, const Secrets& secrets, uint64_t conn_id,
              std::string_view client_address);

  // `admitted` is false when the client limit is reached (53300 once the startup packet came).
  // nullopt when the session ends here: refused (the client was told why), gone, or it was a
  // CancelRequest.
  asio::awaitable<std::optional<Accepted>> run(bool admitted);

 private:
  // client_login.cpp
  asio::awaitable<std::optional<protocol::StartupMessage>> read_startup_message();
  asio::awaitable<bool> answer_encryption_request(bool ssl);
  asio::awaitable<void> forward_cancel(int32_t process_id, int32_t secret_key);
  asio::awaitable<bool> refuse(std::string_view sqlstate, std::string_view message);

  // client_auth.cpp
  asio::awaitable<bool> authenticate(Accepted& client);
  asio::awaitable<bool> find_secret(std::optional<Secret>& secret);
  asio::awaitable<bool> scram_exchange(const std::optional<Secret>& secret, Accepted& client);
  asio::awaitable<bool> md5_exchange(const Secret& secret);
  asio::awaitable<std::optional<std::string>> read_auth_response();
  asio::awaitable<void> reject_password(std::string_view reason);

  ClientLink& client_;
  ProxyContext& context_;
  const Secrets& secrets_;
  uint64_t conn_id_;
  std::string client_address_;
  std::string user_;
  std::string database_;
  protocol::ProtocolError protocol_error_{};
};

}  // namespace cutover::proxy
