// libFuzzer target: the server side of a SCRAM exchange fed arbitrary client messages. The
// input is "<client-first>\n<client-final>"; a first byte 'P' means TLS (PLUS offered). Any
// input must end in a result or an error value, never a crash; and only a proof made with the
// password can succeed.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "protocol/scram_server.h"

namespace {

using namespace cutover::protocol::scram;

const Verifier& verifier() {
  static const Verifier v = *make_verifier("pencil", "fuzz-salt", 2);
  return v;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  bool tls = input.starts_with('P');
  if (tls) input.remove_prefix(1);
  size_t newline = input.find('\n');
  std::string_view first = input.substr(0, newline);
  std::string_view final = newline == std::string_view::npos ? "" : input.substr(newline + 1);

  ServerExchange server(verifier(), "servernonce", tls ? std::string(32, 'h') : "");
  auto server_first = server.on_client_first(tls ? kMechanismPlus : kMechanism, first);
  if (!server_first) return 0;
  auto server_final = server.on_client_final(final);
  // Succeeding without the password would need a SHA-256 preimage: treat it as a bug.
  if (server_final) __builtin_trap();
  return 0;
}
