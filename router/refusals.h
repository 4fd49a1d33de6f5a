// What cutover refuses while it mirrors, before old runs it: a unit it can neither give new with
// the same effect nor journal. The client gets SQLSTATE 0A000 (feature_not_supported), a
// message naming the problem and a hint saying how to write it instead; old raises the error
// itself (raising_statement()), so the client's transaction fails exactly as it would on an
// error of the server's own, and new never sees the unit. Pure.
// Not what is mirrored (proxy/mirror/mirror.h) or pinned (pinning.h).
#pragma once

#include <optional>
#include <string>

#include "router/classify.h"

namespace cutover::router {

struct Refusal {
  std::string message;
  std::string hint;
};

// The refusal for `unit` (a whole simple-protocol Query) while a mirror is kept; nullopt when
// it may run.
std::optional<Refusal> refusal_while_mirroring(const Classification& unit);

// One statement that makes the server raise `refusal` with SQLSTATE 0A000 (a DO block).
std::string raising_statement(const Refusal& refusal);

}  // namespace cutover::router
