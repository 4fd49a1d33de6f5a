// cutover's own login to one database: TCP connect, TLS as sslmode says, the startup packet,
// and the authentication exchange with cutover's credentials (password, md5, SCRAM-SHA-256 with
// channel binding, or a client's SCRAM keys passed through). Not the client's side of the login
// (session_startup.cpp, client_auth.cpp).
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "protocol/backend.h"
#include "protocol/scram.h"
#include "proxy/auth/cancel_registry.h"
#include "proxy/auth/credentials.h"
#include "proxy/base/config.h"
#include "proxy/net/stream.h"
#include "router/phase.h"

namespace cutover::proxy {

// A database cutover logs in to.
struct BackendTarget {
  std::string name;  // "old" or "new", for messages and logs
  const BackendConfig& config;
  const BackendSecrets& secrets;
};

// The database `db` stands for, as configured, with its secrets.
BackendTarget backend_target(const Config& config, const Secrets& secrets, router::Backend db);

// Who cutover logs in as.
struct LoginIdentity {
  std::string user;
  std::string database;
  std::string password;  // for cleartext, md5 and SCRAM; may be empty
  // SCRAM pass-through: the client's ClientKey and the verifier it was checked against.
  std::optional<protocol::scram::Key> client_key;
  std::optional<protocol::scram::Verifier> verifier;
  // Startup parameters other than user and database (application_name, options, ...).
  std::vector<std::pair<std::string, std::string>> parameters;
};

struct LoginResult {
  bool ok = false;
  // On failure: the server's own ErrorResponse (type and body), to relay as it is, or else
  // cutover's SQLSTATE and reason.
  std::optional<Message> server_error;
  std::string sqlstate;
  std::string reason;
  // On success: what followed AuthenticationOk up to and including ReadyForQuery, except the
  // BackendKeyData, which is returned separately.
  std::string messages;
  std::optional<protocol::BackendKeyData> key;
  char transaction_status = 'I';
  std::string leftover;  // bytes read after ReadyForQuery (normally none)
};

// Connects `stream` (a fresh, unconnected one) to the target and logs in. No deadline of its
// own beyond `connect_timeout` for the TCP connect: callers race it against theirs.
asio::awaitable<LoginResult> login_backend(Stream& stream, const BackendTarget& target,
                                           const LoginIdentity& identity,
                                           std::chrono::milliseconds connect_timeout);

// The value of one ParameterStatus in a run of whole messages (LoginResult::messages).
std::optional<std::string> parameter_status(std::string_view messages, std::string_view name);

// Why a login failed, for logs: cutover's reason or the server's SQLSTATE and message.
std::string failure_message(const LoginResult& result);
// "SQLSTATE: message" of an ErrorResponse.
std::string error_message(const Message& error);
// The SQLSTATE of an ErrorResponse; empty when it is unreadable.
std::string sqlstate_of(const Message& error);
// The first column of a DataRow; nullopt when it is NULL, absent or the row unreadable.
std::optional<std::string> first_column(std::string_view data_row);

// Sends PostgreSQL's CancelRequest for `key` over a connection of its own, all of it within
// `timeout`; true if it was sent. Takes the key by value, so it may run on its own.
asio::awaitable<bool> send_cancel_request(BackendKey key, std::chrono::milliseconds timeout);

// TCP connect, resolving `host` unless it is an address.
asio::awaitable<ErrorCode> connect_to(Socket& socket, const std::string& host, uint16_t port);

}  // namespace cutover::proxy
