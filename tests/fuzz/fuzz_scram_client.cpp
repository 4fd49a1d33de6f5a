// libFuzzer target: the client side of a SCRAM exchange fed arbitrary server messages. The
// input is "<mode><server-first>\n<server-final>", where mode 'p' means TLS with PLUS offered,
// 'y' TLS without PLUS, anything else no TLS. Any input must end in a result or an error value,
// never a crash; and pass-through keys must behave exactly like the password they come from.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "protocol/scram_client.h"

namespace {

using namespace cutover::protocol::scram;

// Two iterations keep each PBKDF2 cheap. The keys' verifier pins the count, so the password run
// below only happens for inputs naming i=2: a fuzzed count can never stall the fuzzer.
constexpr int kIterations = 2;

const Verifier& verifier() {
  static const Verifier v = *make_verifier("pencil", "fuzz-salt", kIterations);
  return v;
}

struct Outcome {
  cutover::protocol::Result<std::string> client_final;
  boost::system::error_code final_error;  // from on_server_final, if it was reached
  bool authenticated = false;
};

Outcome run(ClientCredentials credentials, std::string_view mode, std::string_view first,
            std::string_view final) {
  bool tls = mode == "p" || mode == "y";
  ClientExchange client(std::move(credentials), "clientnonce", tls ? std::string(32, 'h') : "");
  std::vector<std::string> offered = {std::string(kMechanism)};
  if (mode == "p") offered.emplace_back(kMechanismPlus);
  // Our own credentials, nonce and offer are valid: refusing them is a bug.
  if (!client.choose_mechanism(offered)) __builtin_trap();
  Outcome out{client.on_server_first(first), {}, false};
  if (!out.client_final) return out;
  auto done = client.on_server_final(final);
  out.authenticated = done.has_value();
  if (!done) out.final_error = done.error();
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  if (input.empty()) return 0;
  std::string_view mode = input.substr(0, 1);
  input.remove_prefix(1);
  size_t newline = input.find('\n');
  std::string_view first = input.substr(0, newline);
  std::string_view final = newline == std::string_view::npos ? "" : input.substr(newline + 1);

  static const Key key = client_key(salted_password("pencil", verifier().salt, kIterations));
  ClientCredentials keys_only;
  keys_only.client_key = key;
  keys_only.verifier = verifier();
  Outcome keys = run(keys_only, mode, first, final);
  if (!keys.client_final) return 0;

  // The keys accepted the salt and count, so the password must produce the same proof and
  // reach the same verdict on the server's signature.
  ClientCredentials password_only;
  password_only.password = "pencil";
  Outcome password = run(password_only, mode, first, final);
  if (!password.client_final || *password.client_final != *keys.client_final ||
      password.authenticated != keys.authenticated || password.final_error != keys.final_error) {
    __builtin_trap();
  }
  return 0;
}
