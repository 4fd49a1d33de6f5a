// Attribute parsing shared by the two sides of a SCRAM exchange (RFC 5802 section 7).
// Internal to protocol/; not part of its interface.
#pragma once

#include <optional>
#include <string_view>

namespace cutover::protocol::scram::fields {

// Splits off the text up to the next ',' (or the end).
inline std::string_view next_field(std::string_view& text) {
  size_t comma = text.find(',');
  std::string_view field = text.substr(0, comma);
  text.remove_prefix(comma == std::string_view::npos ? text.size() : comma + 1);
  return field;
}

// The value of an "x=value" attribute, or nullopt if the field is not attribute `name`.
inline std::optional<std::string_view> attribute(std::string_view field, char name) {
  if (field.size() < 2 || field[0] != name || field[1] != '=') return std::nullopt;
  return field.substr(2);
}

// RFC 5802 printable: 0x21-0x7E except ','.
inline bool printable_nonce(std::string_view nonce) {
  if (nonce.empty()) return false;
  for (char c : nonce) {
    if (c < 0x21 || c > 0x7e || c == ',') return false;
  }
  return true;
}

}  // namespace cutover::protocol::scram::fields
