// Reads the ramp sends to new, in dual_write: run there when nothing is in flight on old, so
// answers stay in order; a read new fails before any byte of its answer went out (a connection
// error, a SQLSTATE from migration.fallback.sqlstates, no answer within fallback.timeout_ms) is
// left to old, with the reason counted and logged; a sampled read is shadowed on old, and the
// comparator gets both answers.
// Not whether the policy sends a unit to new (unit_dispatcher.h).
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

#include "proxy/auth/credentials.h"
#include "proxy/link/backend_link.h"
#include "proxy/link/client_link.h"
#include "proxy/link/secondary.h"
#include "proxy/migration/proxy_context.h"
#include "proxy/mirror/mirror.h"
#include "proxy/net/asio.h"
#include "router/classify.h"

namespace cutover::proxy {

// What became of a read the policy sends to new: new answered the client, or old must run it
// (new cannot take it now, or it failed before any answer went out).
enum class NewRead { kAnswered, kOnOld };

class NewReads {
 public:
  struct Parts {
    ClientLink& client;
    BackendLink& primary;    // old's in dual_write: its answers are the client's otherwise
    BackendLink& secondary;  // new's
    Secondary& new_side;     // keeps the secondary usable
    Mirror& mirror;          // new owes it nothing before a read runs there; the comparison
  };
  // `old` runs a shadow read's other half.
  NewReads(Mirror::Host& old, Parts parts, ProxyContext& context, const Secrets& secrets,
           uint64_t conn_id);

  // Runs `message`, a unit the policy sends to new, there when new is up, has every write, the
  // breaker allows it and nothing is in flight on old. It starts with `prefix_replies`
  // messages that prepare statements new lacks (their answers are not the client's);
  // `shadow_for_old` is the read as old would run it, for a shadow read (empty: never).
  asio::awaitable<NewRead> try_new(std::string_view message, const router::Classification& unit,
                                   int prefix_replies, std::string_view shadow_for_old);
  // Whether this read, which old is about to run, is sampled for a shadow read on new: a Query
  // or a whole extended batch, outside transactions, while new has every write and nothing
  // else is in flight.
  bool shadows(const router::Classification& unit);

 private:
  asio::awaitable<NewRead> run_on_new(std::string_view message, const router::Classification& unit,
                                      int prefix_replies, std::string_view shadow_for_old);
  asio::awaitable<void> shadow_on_old(std::string_view for_old, const router::Classification& unit,
                                      const HeldAnswer& on_new);
  asio::awaitable<std::optional<Message>> first_answer_from_new(int prefix_replies,
                                                                bool& prefix_failed);
  asio::awaitable<void> stream_from_new(Message first, HeldAnswer* seen = nullptr);

  Mirror::Host& old_;
  Parts parts_;
  ProxyContext& context_;
  const Secrets& secrets_;
  uint64_t conn_id_;
};

}  // namespace cutover::proxy
