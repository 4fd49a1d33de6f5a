#include "protocol/scram_server.h"

#include <utility>

#include "protocol/scram_fields.h"

namespace cutover::protocol::scram {
namespace {

boost::system::error_code bad() { return make_error_code(ProtocolError::kBadValue); }

using fields::attribute;
using fields::next_field;
using fields::printable_nonce;

}  // namespace

ServerExchange::ServerExchange(Verifier verifier, std::string server_nonce,
                               std::string channel_binding)
    : verifier_(std::move(verifier)),
      server_nonce_(std::move(server_nonce)),
      channel_binding_(std::move(channel_binding)) {}

Result<std::string> ServerExchange::on_client_first(std::string_view mechanism,
                                                    std::string_view message) {
  if (first_done_ || !printable_nonce(server_nonce_)) return bad();
  first_done_ = true;
  bool plus = mechanism == kMechanismPlus;
  if (!plus && mechanism != kMechanism) return bad();
  if (plus && !offers_plus()) return bad();

  // gs2-header: cbind-flag "," [authzid] ","
  std::string_view rest = message;
  std::string_view flag = next_field(rest);
  std::string_view authzid = next_field(rest);
  if (!authzid.empty()) return bad();  // PostgreSQL does not support authorization identities
  if (flag == "p=tls-server-end-point") {
    if (!plus) return bad();
  } else if (flag == "y") {
    // The client could bind but believes we cannot: if we offered PLUS, that is a downgrade.
    if (plus || offers_plus()) return bad();
  } else if (flag == "n") {
    if (plus) return bad();
  } else {
    return bad();
  }
  gs2_header_ = std::string(message.substr(0, message.size() - rest.size()));

  // client-first-message-bare: "n=" user "," "r=" nonce ["," extensions]. The user name is
  // ignored, as in PostgreSQL: the startup packet already named the role.
  client_first_bare_ = std::string(rest);
  if (!attribute(next_field(rest), 'n')) return bad();
  auto client_nonce = attribute(next_field(rest), 'r');
  if (!client_nonce || !printable_nonce(*client_nonce)) return bad();
  nonce_ = std::string(*client_nonce) + server_nonce_;
  server_first_ = "r=" + nonce_ + ",s=" + base64_encode(verifier_.salt) +
                  ",i=" + std::to_string(verifier_.iterations);
  return server_first_;
}

Result<std::string> ServerExchange::on_client_final(std::string_view message) {
  if (!first_done_ || final_done_ || nonce_.empty()) return bad();
  final_done_ = true;
  size_t proof_at = message.rfind(",p=");
  if (proof_at == std::string_view::npos) return bad();
  std::string_view without_proof = message.substr(0, proof_at);

  std::string_view rest = without_proof;
  auto binding = attribute(next_field(rest), 'c');
  std::string expected_binding = gs2_header_;
  if (gs2_header_.starts_with("p=")) expected_binding += channel_binding_;
  if (!binding || *binding != base64_encode(expected_binding)) return bad();
  auto nonce = attribute(next_field(rest), 'r');
  if (!nonce || *nonce != nonce_) return bad();

  auto proof_bytes = base64_decode(message.substr(proof_at + 3));
  if (!proof_bytes || proof_bytes->size() != Key{}.size()) return bad();
  Key proof{};
  proof_bytes->copy(reinterpret_cast<char*>(proof.data()), proof.size());

  std::string auth_message =
      client_first_bare_ + "," + server_first_ + "," + std::string(without_proof);
  if (!verify_client_proof(verifier_.stored_key, auth_message, proof)) {
    return make_error_code(ProtocolError::kAuthenticationFailed);
  }
  client_key_ = recover_client_key(verifier_.stored_key, auth_message, proof);
  Key signature = server_signature(verifier_.server_key, auth_message);
  return "v=" + base64_encode({reinterpret_cast<const char*>(signature.data()), signature.size()});
}

}  // namespace cutover::protocol::scram
