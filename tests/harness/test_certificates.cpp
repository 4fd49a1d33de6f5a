// Throwaway TLS material for tests (see test_certificates.h).
// The shell script owns the openssl details so shell-driven tests share them.
#include "tests/harness/test_certificates.h"

#include <cstdlib>
#include <stdexcept>
#include <system_error>

#include "tests/harness/connection.h"
#include "tests/harness/util.h"

#ifndef CUTOVER_HARNESS_DIR
#error "CUTOVER_HARNESS_DIR must name tests/harness (set by tests/harness/CMakeLists.txt)"
#endif

namespace cutover::testing {
namespace {

// CUTOVER_MAKE_CERTS_SH lets an installed test binary find the script somewhere else.
std::string find_script() {
  if (const char* path = std::getenv("CUTOVER_MAKE_CERTS_SH"); path != nullptr && *path != '\0') {
    return path;
  }
  return std::string(CUTOVER_HARNESS_DIR) + "/make_certs.sh";
}

void remove_dir(const std::filesystem::path& dir) noexcept {
  std::error_code ignored;
  std::filesystem::remove_all(dir, ignored);
}

}  // namespace

TestCertificates::TestCertificates(const std::vector<std::string>& extra_names)
    : dir_(make_temp_dir("cutover-certs-")) {
  std::vector<std::string> argv{find_script(), dir_.string()};
  for (const auto& name : extra_names) {
    argv.push_back("--name");
    argv.push_back(name);
  }
  CommandResult result;
  try {
    result = run_command(argv);
  } catch (...) {
    remove_dir(dir_);
    throw;
  }
  if (result.status != 0) {
    remove_dir(dir_);
    throw std::runtime_error("make_certs.sh exited with status " + std::to_string(result.status) +
                             (result.err.empty() ? "" : ":\n" + result.err));
  }
}

TestCertificates::~TestCertificates() { remove_dir(dir_); }

std::string TestCertificates::verify_full_conninfo() const {
  return "sslmode=verify-full sslrootcert=" + conninfo_value(ca_file().string());
}

}  // namespace cutover::testing
