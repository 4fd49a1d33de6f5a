// One of a session's two server connections, with what belongs to that connection rather than
// to the session: the stream, who cutover logged in as there, the server's cancel key, its
// transaction status, bytes read and not yet consumed, the read window, the scanner the relay
// reads it with, the ReadyForQuery messages it still owes and the filter that takes the answers
// to cutover's own messages out of what the client gets. A session holds two links: the primary
// (the source of truth's, whose answers the client gets) and the secondary (the mirror's, also
// serving the reads routed there). A role switch trades them with one std::swap, so nothing
// that belongs to a connection can be left behind on the wrong side.
// Not the relay (session.h), not a connection cutover opens for itself (own_connection.h).
#pragma once

#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "protocol/backend.h"
#include "protocol/framing.h"
#include "proxy/auth/backend_login.h"
#include "proxy/link/reply_filter.h"
#include "proxy/net/event.h"
#include "proxy/net/stream.h"
#include "router/phase.h"

namespace cutover::proxy {

// A server may legitimately send rows up to PostgreSQL's own 1 GiB limit.
inline constexpr size_t kMaxBackendMessage = size_t{1} << 30;

struct BackendLink {
  // The relay's scanner captures these messages of the server's (kCaptureWithRows while a
  // mirrored unit's answer is expected: the comparator hashes RETURNING rows, and the
  // ReplyFilter may take a column of cutover's out of them).
  static constexpr std::string_view kCapture = "ZSCE";
  static constexpr std::string_view kCaptureWithRows = "ZSCEDT";

  explicit BackendLink(const asio::any_io_executor& executor)
      : stream(executor), scanner(kCapture, kMaxBackendMessage), answer_signal(executor) {}

  Stream stream;
  router::Backend database = router::Backend::kOld;  // which database the stream reaches
  LoginIdentity identity{};                          // who cutover logged in as there
  std::optional<protocol::BackendKeyData> key{};     // the server's cancel key, once known
  char status = 'I';  // transaction status, from the server's last ReadyForQuery
  // Bytes read from the server and not yet consumed: what arrived with the login, then (the
  // secondary's) answers read ahead of the messages taken out of them.
  std::string in{};
  std::unique_ptr<char[]> window{};  // the read window, allocated when the relay starts
  // The relay's side (the primary's): its scanner, the ReadyForQuery messages the server still
  // owes, Syncs sent since the last Execute or Query (a COPY takes them back: the server
  // ignores a Sync while copying in), whether it is copying in, the type of its last message,
  // whether no write to it was cut short, and the edits to its answer stream.
  protocol::FrameScanner scanner;
  int pending_replies = 0;
  int syncs_since_execute = 0;
  bool copy_in = false;
  // CopyDone or CopyFail the client sent before the server's CopyInResponse reached cutover (a
  // client may send a COPY's data without waiting for it, as asyncpg does): that COPY is over
  // when its CopyInResponse comes. Cleared once nothing is owed (a COPY refused gets none).
  int copy_ends_early = 0;
  char last_type = '\0';
  bool write_whole = true;
  ReplyFilter filter{};
  // A unit of cutover's own waits for the server's answer (awaiting_answer): the relay wakes it
  // through answer_signal once nothing is owed and no chunk read is still unsent to the client.
  bool awaiting_answer = false;
  bool chunk_unsent = false;
  Event answer_signal;
};

}  // namespace cutover::proxy
