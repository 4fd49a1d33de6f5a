#include "protocol/scram_client.h"

#include <openssl/crypto.h>

#include <algorithm>
#include <charconv>
#include <utility>

#include "protocol/scram_fields.h"

namespace cutover::protocol::scram {
namespace {

using fields::attribute;
using fields::next_field;
using fields::printable_nonce;

constexpr std::string_view kBindingType = "tls-server-end-point";

boost::system::error_code bad() { return make_error_code(ProtocolError::kBadValue); }

std::string_view as_chars(const Key& key) {
  return {reinterpret_cast<const char*>(key.data()), key.size()};
}

bool offered(const std::vector<std::string>& mechanisms, std::string_view name) {
  return std::find(mechanisms.begin(), mechanisms.end(), name) != mechanisms.end();
}

// RFC 5802 saslname: ',' and '=' are the only characters the attribute syntax cannot carry.
std::string escape_saslname(std::string_view user) {
  std::string out;
  for (char c : user) {
    if (c == ',') {
      out += "=2C";
    } else if (c == '=') {
      out += "=3D";
    } else {
      out += c;
    }
  }
  return out;
}

bool credentials_usable(const ClientCredentials& c) {
  if (!c.client_key && !c.verifier) return password_supported(c.password);
  if (!c.client_key || !c.verifier || !c.password.empty()) return false;  // which one to use?
  // Keys that do not hash to the verifier's StoredKey would only be refused by the server after
  // a round trip; a mismatch here is a bug in whoever paired them.
  Key stored = stored_key(*c.client_key);
  return !c.verifier->salt.empty() && c.verifier->iterations >= 1 &&
         CRYPTO_memcmp(stored.data(), c.verifier->stored_key.data(), stored.size()) == 0;
}

// "i=" value: decimal digits only (from_chars refuses signs and spaces), 1..kMaxIterations.
std::optional<int> parse_iterations(std::string_view text) {
  int value = 0;
  auto [end, ec] = std::from_chars(text.begin(), text.end(), value);
  if (text.empty() || ec != std::errc{} || end != text.end()) return std::nullopt;
  if (value < 1 || value > kMaxIterations) return std::nullopt;
  return value;
}

}  // namespace

ClientExchange::ClientExchange(ClientCredentials credentials, std::string client_nonce,
                               std::string channel_binding, std::string user)
    : credentials_(std::move(credentials)),
      client_nonce_(std::move(client_nonce)),
      channel_binding_(std::move(channel_binding)),
      user_(std::move(user)) {}

Result<std::string> ClientExchange::choose_mechanism(const std::vector<std::string>& mechanisms) {
  if (!client_first_.empty() || !printable_nonce(client_nonce_)) return bad();
  if (!credentials_usable(credentials_)) return bad();
  std::string_view chosen;
  if (!channel_binding_.empty() && offered(mechanisms, kMechanismPlus)) {
    chosen = kMechanismPlus;
    gs2_header_ = "p=" + std::string(kBindingType) + ",,";
  } else if (offered(mechanisms, kMechanism)) {
    chosen = kMechanism;
    gs2_header_ = channel_binding_.empty() ? "n,," : "y,,";
  } else {
    return bad();  // PLUS alone without a certificate hash, or no SCRAM at all
  }
  client_first_ = gs2_header_ + "n=" + escape_saslname(user_) + ",r=" + client_nonce_;
  return std::string(chosen);
}

Result<std::string> ClientExchange::on_server_first(std::string_view message) {
  if (client_first_.empty() || first_done_) return bad();
  first_done_ = true;

  // server-first-message: [reserved-mext ","] nonce "," salt "," iteration-count
  // ["," extensions]. PostgreSQL sends neither "m=" (which RFC 5802 says must fail) nor
  // extensions, and libpq refuses both, so we do too.
  std::string_view rest = message;
  auto nonce = attribute(next_field(rest), 'r');
  auto salt_text = attribute(next_field(rest), 's');
  auto iterations_text = attribute(next_field(rest), 'i');
  if (!nonce || !salt_text || !iterations_text || !rest.empty()) return bad();
  if (message.ends_with(',')) return bad();  // next_field hides one trailing empty field
  // The server must extend our nonce, not replace it: our fresh half is what keeps an impostor
  // from replaying a recorded exchange and its ServerSignature at us.
  if (!printable_nonce(*nonce) || nonce->size() <= client_nonce_.size() ||
      !nonce->starts_with(client_nonce_)) {
    return bad();
  }
  auto salt = base64_decode(*salt_text);
  if (!salt || salt->empty()) return bad();
  auto iterations = parse_iterations(*iterations_text);
  if (!iterations) return bad();

  Key client{};
  Key server{};
  if (const auto& keys = credentials_.client_key) {
    const Verifier& verifier = *credentials_.verifier;
    // The keys are bound to one salt and count; a server with another verifier for this role
    // (the password was reset, or another cluster) needs the password itself.
    if (*salt != verifier.salt || *iterations != verifier.iterations) {
      return make_error_code(ProtocolError::kAuthenticationFailed);
    }
    client = *keys;
    server = verifier.server_key;
  } else {
    Key salted = salted_password(credentials_.password, *salt, *iterations);
    client = client_key(salted);
    server = server_key(salted);
  }

  std::string binding_input = gs2_header_;
  if (gs2_header_.starts_with("p=")) binding_input += channel_binding_;
  std::string without_proof = "c=" + base64_encode(binding_input) + ",r=" + std::string(*nonce);
  std::string auth_message =
      client_first_.substr(gs2_header_.size()) + "," + std::string(message) + "," + without_proof;
  expected_signature_ = server_signature(server, auth_message);
  return without_proof + ",p=" + base64_encode(as_chars(client_proof(client, auth_message)));
}

Result<void> ClientExchange::on_server_final(std::string_view message) {
  if (!expected_signature_ || final_done_) return bad();
  final_done_ = true;
  // server-final-message: server-error / verifier, ["," extensions]; as with server-first,
  // libpq refuses extensions, so a ',' fails the base64 check below.
  if (auto error = attribute(message, 'e')) {
    server_error_ = std::string(*error);
    return make_error_code(ProtocolError::kAuthenticationFailed);
  }
  auto signature_text = attribute(message, 'v');
  if (!signature_text) return bad();
  auto signature = base64_decode(*signature_text);
  if (!signature || signature->size() != Key{}.size()) return bad();
  if (CRYPTO_memcmp(signature->data(), expected_signature_->data(), signature->size()) != 0) {
    return make_error_code(ProtocolError::kAuthenticationFailed);
  }
  return {};
}

}  // namespace cutover::protocol::scram
