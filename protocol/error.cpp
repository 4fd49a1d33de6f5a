#include "protocol/error.h"

#include <string>

namespace cutover::protocol {
namespace {

class ProtocolCategory final : public boost::system::error_category {
 public:
  const char* name() const noexcept override { return "postgres-protocol"; }
  std::string message(int value) const override {
    switch (static_cast<ProtocolError>(value)) {
      case ProtocolError::kTruncated:
        return "message truncated";
      case ProtocolError::kLengthTooSmall:
        return "invalid message length";
      case ProtocolError::kMessageTooLarge:
        return "message exceeds the maximum size";
      case ProtocolError::kMissingTerminator:
        return "string not terminated";
      case ProtocolError::kBadCount:
        return "invalid count or length field";
      case ProtocolError::kUnknownMessageType:
        return "unknown message type";
      case ProtocolError::kUnsupportedProtocol:
        return "unsupported frontend protocol";
      case ProtocolError::kTrailingBytes:
        return "unexpected bytes after the last field";
      case ProtocolError::kBadValue:
        return "invalid field value";
      case ProtocolError::kAuthenticationFailed:
        return "password authentication failed";
    }
    return "unknown protocol error";
  }
};

}  // namespace

const boost::system::error_category& protocol_category() noexcept {
  static const ProtocolCategory category;
  return category;
}

}  // namespace cutover::protocol
