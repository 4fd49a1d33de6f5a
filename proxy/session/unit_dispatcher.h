// The unit dispatcher in dual_write: the client's messages gathered into units of work (a
// simple-protocol Query, or an extended-query batch up to its Sync), classified, and handed on
// as router::route decides: a read it sends to new runs there (through the Host), a write is
// mirrored (mirror.h), a COPY FROM STDIN mirrored as it streams, session state copied to new
// so its reads see the same settings, and everything else queued for old as in pass-through.
// It keeps what the routing policy knows of the session (router::SessionView) and which
// prepared statements each side has.
// Not reading the client's stream or role switches (session.h), nor running reads on new
// (new_reads.h).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "proxy/link/backend_link.h"
#include "proxy/link/kept_messages.h"
#include "proxy/link/secondary.h"
#include "proxy/migration/proxy_context.h"
#include "proxy/mirror/mirror.h"
#include "proxy/mirror/pinner.h"
#include "proxy/net/asio.h"
#include "proxy/session/new_reads.h"
#include "router/classify.h"
#include "router/extended.h"
#include "router/policy.h"
#include "router/refusals.h"

namespace cutover::proxy {

class UnitDispatcher {
 public:
  // What the dispatcher needs of the session around it: old's side of a unit (the relay reads
  // old's answers).
  class Host {
   public:
    virtual ~Host() = default;
    // Sends the messages queued for old; false when old's connection failed.
    virtual asio::awaitable<bool> forward_to_old(std::string& pending) = 0;
    // Until old owes no answer and its bytes went out to the client; false when the session
    // ends meanwhile.
    virtual asio::awaitable<bool> wait_for_old() = 0;
    // Sends cutover's messages (`units` units, their edits registered with old's filter) to old
    // and waits for the held answer; nullopt when old's connection failed.
    virtual asio::awaitable<std::optional<HeldAnswer>> run_on_old(std::string_view messages,
                                                                  int units) = 0;
  };

  struct Parts {
    BackendLink& primary;  // the source of truth's connection
    Secondary& new_side;   // keeps the secondary usable
    Mirror& mirror;
    Pinner& pinner;
    NewReads& new_reads;  // reads the policy sends to new
  };
  UnitDispatcher(Host& host, Parts parts, ProxyContext& context, uint64_t conn_id);

  // Who the session is, as the policy sees it (sticky routing, per-user overrides).
  void start(std::string_view user, uint64_t sticky_hash);  // `user` outlives the dispatcher

  // One whole client message (`body` inside `whole`), dispatched or gathered; what goes to old
  // is appended to `pending`. False when old's connection failed or the mirror ended the
  // session (Mirror::failure()).
  asio::awaitable<bool> take(char type, std::string_view body, std::string_view whole,
                             std::string& pending);
  // Sends what was gathered of a batch to old, the rest to follow as it comes.
  asio::awaitable<bool> flush(std::string& pending);
  // Whether the batch being gathered may wait for the client's next read before any of it goes
  // to old. Whole at its Sync, it is pinned with every value old must compute asked first; in
  // pieces it cannot stop for that (pinner_pieces.cpp). Not once part of it went to old, nor
  // past limits.batch_hold_bytes.
  bool may_hold_batch() const;
  // Whether the client's message of this type is skipped, as old would skip it: after an error
  // in a batch prepare_apart() ended early, until the client's Sync.
  bool skips(char type) const { return skipping_to_sync_ && type != 'S' && type != 'X'; }
  // No batch is being gathered, sent in pieces, or waiting for its Sync after prepare_apart().
  bool between_units() const { return batch_.empty() && !batch_to_old_ && !apart_until_sync_; }

  // standard_conforming_strings is off: '\' escapes in plain literals, which the classifier
  // (like libpg_query) does not expect, so nothing of this session is read as a read.
  bool nonstandard_strings() const { return nonstandard_strings_; }
  // What old's relay saw: a ParameterStatus, the end of a transaction (its DDL, if any, then
  // makes a new schema version).
  void note_parameter_status(std::string_view name, std::string_view value);
  void note_transaction_end();
  // The client's prepared statements and where each is (role switches, new's reconnects).
  router::PreparedStatements& statements() { return statements_; }

 private:
  // unit_dispatcher.cpp
  asio::awaitable<bool> route_query(std::string_view body, std::string_view whole,
                                    std::string& pending);
  const router::Classification& classify(std::string_view sql);
  router::Decision decide(const router::Classification& unit);
  std::optional<router::Refusal> refusal_of(const router::Classification& unit,
                                            std::string_view sql);
  asio::awaitable<NewRead> try_new(std::string_view message, const router::Classification& unit,
                                   int prefix_replies, std::string_view shadow_for_old);
  bool shadows(const router::Classification& unit);
  void note_unit(const router::Classification& unit);
  void forget_prepared(const router::Classification& unit);

  // unit_dispatcher_extended.cpp
  asio::awaitable<bool> route_extended(char type, std::string_view whole, std::string& pending);
  asio::awaitable<bool> run_batch(std::string& pending);
  asio::awaitable<bool> send_batch_to_old(std::string_view batch, const router::BatchPlan& plan,
                                          std::string& pending);
  asio::awaitable<bool> prepare_apart(std::string_view batch, const router::BatchPlan& plan,
                                      std::string& pending);
  asio::awaitable<bool> send_piece_to_old(std::string_view piece, const router::BatchPlan& plan,
                                          std::string& pending);
  asio::awaitable<bool> copy_batch_to_new(std::string_view batch, const router::BatchPlan& plan);
  asio::awaitable<bool> refuse_batch(std::string_view batch, const router::BatchPlan& plan,
                                     const router::Refusal& refusal, std::string& pending);
  asio::awaitable<bool> mirror_batch(std::string_view batch, const router::BatchPlan& plan,
                                     std::string& pending);
  asio::awaitable<bool> mirror_partial_batch(std::string_view sync, std::string& pending);
  void end_unexecuted_pieces();
  router::BatchPlan plan_batch(std::string_view batch, bool new_is_empty = false);
  // Units that owe old's ReadyForQuery before `batch` (the client's Sync counts as it comes).
  int units_before_batch(std::string_view batch) const;
  void note_batch(const router::BatchPlan& plan);

  Host& host_;
  Parts parts_;
  ProxyContext& context_;
  uint64_t conn_id_;
  router::SessionView view_;  // what the policy knows of this session
  bool nonstandard_strings_ = false;
  bool schema_changed_ = false;  // DDL ran in the open transaction: a new version at its end
  // Extended-query messages of the batch being gathered, up to its Sync; once a batch cannot
  // be held whole (a Flush, a client's pause, limits.batch_hold_bytes) the rest goes to old as
  // it comes.
  std::string batch_;
  bool batch_to_old_ = false;
  bool pieces_observed_ = false;  // old's answer to them is watched (ReplyFilter::observe())
  bool sync_arrived_ = false;     // the pieces before it go out: its answer is counted already
  // A batch prepare_apart() ended early on old: its rest, up to the client's Sync, is to come
  // (and is skipped when old failed the first part).
  bool apart_until_sync_ = false;
  bool skipping_to_sync_ = false;
  int batch_parses_on_old_ = 0;  // Parse messages of the current batch already sent to old
  KeptMessages partial_batch_;   // what went to old of it, for mirroring at its Sync
  router::PreparedStatements statements_;
};

}  // namespace cutover::proxy
