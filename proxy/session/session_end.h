// Why a session's relay ended: each end has its own message to the client (or none) and its
// own reason in the client_disconnected log line (Session::finish()).
#pragma once

namespace cutover::proxy {

enum class SessionEnd {
  kClientClosed,
  kClientTerminate,
  kClientProtocolError,
  kBackendClosed,
  kBackendProtocolError,
  kIdleTimeout,
  kDrained,
  kTerminated,
  kSwitchRoles,       // at a transaction boundary, the roles changed: switch, then relay on
  kSwitchImpossible,  // ... but this session cannot take the new roles
  kSwitchTimedOut,    // still inside a transaction when the role switch stopped waiting
  kFailed,            // cutover could not go on: Session::failure_ says why
};

}  // namespace cutover::proxy
