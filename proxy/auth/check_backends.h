// `cutover check-backends`: logs in to old and new exactly as sessions will (address, TLS per
// sslmode, credentials) and reports each, so an operator can test a configuration before
// clients depend on it. Not a health check of a running proxy (that is the admin port's job).
#pragma once

#include <ostream>
#include <string>

#include "proxy/base/config.h"

namespace cutover::proxy {

// Logs in to both databases, `user` and `database` standing in for a client's where the
// configuration leaves them empty. Prints one line per database; returns true if both logins
// succeeded. Throws ConfigError/TlsError when a file the configuration names is unusable.
bool check_backends(const Config& config, const std::string& user, const std::string& database,
                    std::ostream& out);

}  // namespace cutover::proxy
