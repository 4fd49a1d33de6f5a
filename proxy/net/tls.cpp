#include "proxy/net/tls.h"

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/rand.h>
#include <openssl/x509.h>

namespace cutover::proxy {
namespace {

// Runs one step of building a context, turning Asio's exception into a TlsError that says
// which setting failed.
template <typename Step>
void step(const std::string& what, Step&& run) {
  try {
    run();
  } catch (const boost::system::system_error& e) {
    throw TlsError(what + ": " + e.code().message());
  }
}

void require_tls12(ssl::context& context) {
  context.set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                      ssl::context::no_sslv3 | ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1);
}

}  // namespace

std::shared_ptr<ssl::context> make_server_tls_context(const TlsConfig& tls) {
  if (tls.mode == TlsMode::kDisable) return nullptr;
  auto context = std::make_shared<ssl::context>(ssl::context::tls_server);
  require_tls12(*context);
  if (tls.min_version == "TLSv1.3") {
    SSL_CTX_set_min_proto_version(context->native_handle(), TLS1_3_VERSION);
  }
  step("tls.cert_file " + tls.cert_file,
       [&] { context->use_certificate_chain_file(tls.cert_file); });
  step("tls.key_file " + tls.key_file,
       [&] { context->use_private_key_file(tls.key_file, ssl::context::pem); });
  if (SSL_CTX_check_private_key(context->native_handle()) != 1) {
    throw TlsError("tls.key_file " + tls.key_file + " does not match tls.cert_file " +
                   tls.cert_file);
  }
  if (SSL_CTX_set_cipher_list(context->native_handle(), tls.ciphers.c_str()) != 1) {
    ERR_clear_error();
    throw TlsError("tls.ciphers: no usable cipher in '" + tls.ciphers + "'");
  }
  if (!tls.ca_file.empty()) {
    step("tls.ca_file " + tls.ca_file, [&] { context->load_verify_file(tls.ca_file); });
    // Certificates a client presents must chain to the CA; presenting none stays allowed, as
    // with PostgreSQL's ssl_ca_file, because authentication is by password.
    context->set_verify_mode(ssl::verify_peer);
    SSL_CTX_set_client_CA_list(context->native_handle(),
                               SSL_load_client_CA_file(tls.ca_file.c_str()));
  }
  return context;
}

std::shared_ptr<ssl::context> make_backend_tls_context(const BackendConfig& backend) {
  if (backend.sslmode == SslMode::kDisable) return nullptr;
  auto context = std::make_shared<ssl::context>(ssl::context::tls_client);
  require_tls12(*context);
  // As libpq: a root certificate given with require means verify-ca.
  bool verify = backend.sslmode == SslMode::kVerifyCa || backend.sslmode == SslMode::kVerifyFull ||
                (backend.sslmode == SslMode::kRequire && !backend.sslrootcert.empty());
  if (!verify) {
    context->set_verify_mode(ssl::verify_none);
    return context;
  }
  if (backend.sslrootcert.empty()) {
    step("the system's CA certificates", [&] { context->set_default_verify_paths(); });
  } else {
    step("sslrootcert " + backend.sslrootcert,
         [&] { context->load_verify_file(backend.sslrootcert); });
  }
  context->set_verify_mode(ssl::verify_peer);
  return context;
}

std::string tls_server_end_point(X509* certificate) {
  if (certificate == nullptr) return "";
  int digest_nid = NID_undef;
  if (OBJ_find_sigid_algs(X509_get_signature_nid(certificate), &digest_nid, nullptr) != 1) {
    return "";
  }
  if (digest_nid == NID_md5 || digest_nid == NID_sha1) digest_nid = NID_sha256;
  const EVP_MD* digest = EVP_get_digestbynid(digest_nid);
  if (digest == nullptr) return "";
  unsigned char hash[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  if (X509_digest(certificate, digest, hash, &length) != 1) return "";
  return std::string(reinterpret_cast<const char*>(hash), length);
}

std::string channel_binding_of(Stream& stream, bool server_side) {
  if (!stream.encrypted()) return "";
  if (server_side) return tls_server_end_point(SSL_get_certificate(stream.ssl_handle()));
  X509* peer = SSL_get1_peer_certificate(stream.ssl_handle());
  std::string binding = tls_server_end_point(peer);
  X509_free(peer);
  return binding;
}

std::string random_bytes(size_t count) {
  std::string bytes(count, '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(bytes.data()), static_cast<int>(count)) != 1) {
    // Only when the kernel's entropy source fails; no safe way to go on.
    throw std::runtime_error("OpenSSL's random generator failed");
  }
  return bytes;
}

}  // namespace cutover::proxy
