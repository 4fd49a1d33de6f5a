// auth_query: looking a client's verifier up in old's catalog through a dedicated login, as
// PgBouncer's auth_query does. Not the check of the client's proof (client_auth.cpp).
#pragma once

#include <optional>
#include <string>

#include "proxy/auth/credentials.h"
#include "proxy/base/config.h"

namespace cutover::proxy {

struct AuthQueryResult {
  bool ok = false;               // the query ran; `secret` is then the answer
  std::optional<Secret> secret;  // nullopt: no such user, or no usable secret
  std::string error;             // why the query could not run
};

// Runs config.auth.auth_query on old with $1 = `user` in `database`, as auth.query_user (or
// backends.old.user). One connection per lookup, closed afterwards: secrets are never cached, so
// a changed password applies to the next login.
asio::awaitable<AuthQueryResult> query_secret(const Config& config, const Secrets& secrets,
                                              const std::string& user, const std::string& database);

}  // namespace cutover::proxy
