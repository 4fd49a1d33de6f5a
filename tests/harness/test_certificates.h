// Throwaway TLS material for tests: a private CA and server certificates it signed, made by
// tests/harness/make_certs.sh in a temp dir. Not a TLS library: it only hands out file paths.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

namespace cutover::testing {

// A fresh CA plus two certificates it signed, in a private temp dir removed on destruction:
//   server: CN localhost, subjectAltName DNS:localhost, IP:127.0.0.1 (and any extra names);
//   wrong:  CN and subjectAltName wrong.example, so sslmode=verify-full to localhost or
//           127.0.0.1 must reject a server presenting it.
// ECDSA P-256 keys (mode 0600), valid for two days. Making them takes about 0.2 s.
// dir() suits PgCluster::Options::ssl_cert_dir (pgcluster.sh copies server.* and ca.crt from
// it); the directory itself is mode 0700, readable only by the test's own user.
class TestCertificates {
 public:
  // Runs make_certs.sh; extra_names (DNS names or IP addresses) join the server certificate's
  // subjectAltName. Throws std::runtime_error with the script's stderr on failure (and leaves
  // nothing behind).
  explicit TestCertificates(const std::vector<std::string>& extra_names = {});
  // Removes the directory; never throws.
  ~TestCertificates();
  TestCertificates(const TestCertificates&) = delete;
  TestCertificates& operator=(const TestCertificates&) = delete;

  const std::filesystem::path& dir() const { return dir_; }
  std::filesystem::path ca_file() const { return dir_ / "ca.crt"; }
  std::filesystem::path ca_key() const { return dir_ / "ca.key"; }
  std::filesystem::path server_cert() const { return dir_ / "server.crt"; }
  std::filesystem::path server_key() const { return dir_ / "server.key"; }
  std::filesystem::path wrong_cert() const { return dir_ / "wrong.crt"; }
  std::filesystem::path wrong_key() const { return dir_ / "wrong.key"; }

  // "sslmode=verify-full sslrootcert=<ca_file()>", to append to a conninfo such as
  // PgCluster::conninfo(): libpq then insists on TLS and on a certificate from this CA naming
  // the host it dialled.
  std::string verify_full_conninfo() const;

 private:
  std::filesystem::path dir_;
};

}  // namespace cutover::testing
