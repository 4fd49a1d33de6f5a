// TLS contexts built from the configuration (the client-facing listener and each database), and
// the certificate hash SCRAM channel binding needs. Not the connections themselves (stream.h).
#pragma once

#include <memory>
#include <stdexcept>
#include <string>

#include "proxy/base/config.h"
#include "proxy/net/stream.h"

namespace cutover::proxy {

// A TLS setting that cannot be used, with the file and OpenSSL's reason in its message.
class TlsError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// For the listener; nullptr when tls.mode is disable. Throws TlsError.
std::shared_ptr<ssl::context> make_server_tls_context(const TlsConfig& tls);

// For cutover's connections to one database; nullptr for sslmode disable. Throws TlsError.
std::shared_ptr<ssl::context> make_backend_tls_context(const BackendConfig& backend);

// RFC 5929 tls-server-end-point: the hash of `certificate` with its signature's digest
// (SHA-256 when that is MD5 or SHA-1). Empty if the digest cannot be determined.
std::string tls_server_end_point(X509* certificate);

// The binding data for a connection: the server's own certificate when `server_side`, the
// peer's otherwise. Empty when the stream is not encrypted.
std::string channel_binding_of(Stream& stream, bool server_side);

// Cryptographically random bytes (OpenSSL's CSPRNG), for nonces and salts.
std::string random_bytes(size_t count);

}  // namespace cutover::proxy
