// Error values for malformed or unsupported PostgreSQL wire input, as boost::system codes.
// Not for I/O errors: those stay in the asio/system categories where they arise.
#pragma once

#include <boost/system/error_code.hpp>
#include <boost/system/result.hpp>
#include <type_traits>

namespace cutover::protocol {

enum class ProtocolError {
  kTruncated = 1,         // a field runs past the end of its message
  kLengthTooSmall,        // a length word smaller than the length word itself
  kMessageTooLarge,       // a length word above the configured maximum
  kMissingTerminator,     // a C string without its NUL inside the message
  kBadCount,              // a count or length that is negative or exceeds the bytes left
  kUnknownMessageType,    // a type byte this direction does not define
  kUnsupportedProtocol,   // a startup packet asking for a protocol version other than 3.x
  kTrailingBytes,         // bytes left over after the last field of a message
  kBadValue,              // a field holding a value the protocol does not allow
  kAuthenticationFailed,  // a well-formed SCRAM proof that does not match the verifier
};

const boost::system::error_category& protocol_category() noexcept;

inline boost::system::error_code make_error_code(ProtocolError e) noexcept {
  return {static_cast<int>(e), protocol_category()};
}

template <typename T>
using Result = boost::system::result<T>;

}  // namespace cutover::protocol

template <>
struct boost::system::is_error_code_enum<cutover::protocol::ProtocolError> : std::true_type {};
