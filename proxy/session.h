// One client connection: the startup family, the login relayed to the backend, then the relay
// of both directions with backpressure, timeouts and a clean end.
// Not the listener, the thread pool or the shutdown sequence (server.h).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "protocol/framing.h"
#include "protocol/scram.h"
#include "protocol/startup.h"
#include "proxy/asio.h"
#include "proxy/backend_login.h"
#include "proxy/cancel_registry.h"
#include "proxy/config.h"
#include "proxy/credentials.h"
#include "proxy/metrics.h"
#include "proxy/mirror_journal.h"
#include "proxy/proxy_context.h"
#include "proxy/reply_filter.h"
#include "proxy/roles.h"
#include "proxy/sequence_keeper.h"
#include "proxy/stream.h"
#include "router/circuit_breaker.h"
#include "router/classify.h"
#include "router/extended.h"
#include "router/insert_defaults.h"
#include "router/policy.h"
#include "verify/comparator.h"
#include "verify/journal.h"

namespace cutover::proxy {

class Session;

// Messages kept for later (a transaction's mirrored units for the journal, a batch that went
// to old in pieces), up to a bound: past it nothing more is kept and overflowed() says so.
class KeptMessages {
 public:
  void append(std::string_view messages) {
    if (overflowed_ || bytes_.size() + messages.size() > kMaxBytes) {
      overflowed_ = true;
      return;
    }
    bytes_.append(messages);
  }
  const std::string& bytes() const { return bytes_; }
  bool overflowed() const { return overflowed_; }

 private:
  static constexpr size_t kMaxBytes = size_t{64} << 20;
  std::string bytes_;
  bool overflowed_ = false;
};

// The sessions living on one io_context; touched only from that context's thread.
using SessionSet = std::unordered_set<Session*>;

class Session {
 public:
  // `admitted` is false when the client limit is reached: the client then gets 53300 at startup.
  Session(Socket client, ProxyContext& context, SessionSet& siblings, bool admitted);
  ~Session();
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  asio::awaitable<void> run();

  // Shutdown, called on the session's executor: drain() ends the session at its next idle
  // point (no query in flight); terminate() ends it now.
  void drain();
  void terminate();

  // Role switches (session_roles.cpp), called on the session's executor: whether the session
  // is between transactions with nothing in flight (where it can change roles); ending a
  // session that is not, once the switch waited long enough; waking a session held for it.
  bool at_switch_point() const;
  void end_for_switch();
  void release_hold();

 private:
  enum class End {
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
  };

  // session_startup.cpp
  asio::awaitable<bool> startup();
  asio::awaitable<std::optional<protocol::StartupMessage>> read_startup_message();
  asio::awaitable<bool> answer_encryption_request(bool ssl);
  asio::awaitable<bool> login_to_primary(const LoginIdentity& identity);
  LoginIdentity backend_identity(const protocol::StartupMessage& startup) const;
  LoginIdentity identity_on(router::Backend db, const LoginIdentity& base) const;
  asio::awaitable<void> forward_cancel(int32_t process_id, int32_t secret_key);

  // client_auth.cpp
  asio::awaitable<bool> authenticate_client(LoginIdentity& identity);
  asio::awaitable<bool> find_secret(std::optional<Secret>& secret);
  asio::awaitable<bool> scram_exchange(const std::optional<Secret>& secret,
                                       LoginIdentity& identity);
  asio::awaitable<bool> md5_exchange(const Secret& secret);
  asio::awaitable<std::optional<std::string>> read_auth_response();
  asio::awaitable<void> reject_password(std::string_view reason);

  // session_new.cpp: new's connection (login, reconnect and replay, copies, read watchdog).
  asio::awaitable<void> login_to_secondary(const LoginIdentity& identity,
                                           const protocol::StartupMessage& startup);
  std::string sticky_key() const;
  asio::awaitable<bool> connect_new();
  asio::awaitable<End> maintain_new();
  asio::awaitable<End> watch_new_reads();
  asio::awaitable<bool> replay_session_state();
  asio::awaitable<std::optional<std::string>> run_own_on_new(std::string_view messages);
  void log_session_state(std::string_view message);
  asio::awaitable<void> copy_to_new(std::string_view message);
  void drop_new(std::string_view reason);

  // session_routing.cpp: reads in dual_write go to new when the policy says so.
  bool routing() const;
  asio::awaitable<End> pump_client_routed();
  asio::awaitable<bool> route_query(std::string_view body, std::string_view whole,
                                    std::string& pending);
  asio::awaitable<bool> forward_to_old(std::string& pending);
  const router::Classification& classify(std::string_view sql);
  router::Decision decide(const router::Classification& unit);
  // `shadow_for_old`: the read as old would run it, to compare old's answer when the read is
  // sampled for a shadow read (empty: never).
  asio::awaitable<bool> try_new(std::string_view message, const router::Classification& unit,
                                int prefix_replies, std::string_view shadow_for_old = {});
  asio::awaitable<bool> run_on_new(std::string_view message, const router::Classification& unit,
                                   int prefix_replies, std::string_view shadow_for_old);
  asio::awaitable<void> shadow_on_old(std::string_view for_old, const router::Classification& unit,
                                      const HeldAnswer& on_new);
  asio::awaitable<std::optional<Message>> first_answer_from_new(int prefix_replies,
                                                                bool& prefix_failed);
  asio::awaitable<bool> drain_new();
  asio::awaitable<bool> stream_from_new(Message first, HeldAnswer* seen = nullptr);
  void note_unit(const router::Classification& unit);
  void forget_prepared(const router::Classification& unit);
  void note_parameter_status(std::string_view body);
  asio::awaitable<void> wait_for_client_writes();
  asio::awaitable<void> hold_client_writes();
  void release_client_writes();
  asio::awaitable<bool> relay_to_client(std::string_view bytes);

  // session_mirror.cpp: writes run on old, then on new (strict ordering).
  bool mirrors(const router::Classification& unit) const;
  bool wraps(const router::Classification& unit) const;
  asio::awaitable<bool> mirror_query(std::string_view whole, const router::Classification& unit,
                                     std::string& pending);
  asio::awaitable<bool> mirror_batch(std::string_view batch, const router::BatchPlan& plan,
                                     std::string& pending);
  asio::awaitable<bool> mirror_unit(std::string_view old_prefix, std::string_view for_old,
                                    std::string_view for_new, std::string_view for_journal,
                                    const router::Classification& unit,
                                    const std::vector<int>& own_parses = {});
  asio::awaitable<bool> mirror_after_old(const HeldAnswer& held, bool wrap,
                                         std::string_view for_new, std::string_view for_journal,
                                         const router::Classification& unit);
  asio::awaitable<bool> mirror_partial_batch(std::string_view sync, std::string& pending);
  bool shadows(const router::Classification& unit);
  void compare(verify::WriteAnswer on_backend, verify::WriteAnswer on_other,
               const router::Classification& unit, bool nondeterministic, bool shadow_read);
  asio::awaitable<bool> shadow_read(std::string_view for_old, std::string_view for_new,
                                    const router::Classification& unit, std::string& pending);
  // session_copy.cpp: COPY FROM STDIN mirrored.
  asio::awaitable<bool> mirror_copy(std::string_view whole, const router::Classification& unit);
  asio::awaitable<bool> mirror_copy_data(char type, std::string_view whole, std::string& pending);
  void end_mirrored_copy();
  asio::awaitable<bool> run_own_on_old(std::string_view messages);
  asio::awaitable<std::optional<HeldAnswer>> run_on_old(std::string_view messages, int units);
  asio::awaitable<bool> wait_for_old();
  enum class MirrorOutcome { kApplied, kNotApplied, kUncertain };
  // What cutover adds around a unit it runs on new: its BEGIN first, its transaction id query
  // last (see run_on_mirror()); and whether the unit ends a transaction there (it did on old),
  // so that a lost answer leaves it in doubt.
  struct MirrorFrame {
    bool begin = false;
    bool ask_transaction_id = false;
    bool ends_transaction = false;
    bool shadow_read = false;  // a read run on new only for the comparator
    bool own = false;          // cutover's COMMIT or ROLLBACK, not a client's unit (not counted)
  };
  asio::awaitable<MirrorOutcome> run_on_mirror(std::string_view messages, MirrorFrame frame,
                                               const router::Classification& unit,
                                               const HeldAnswer* old_answer);
  enum class MirrorSend { kSent, kSkipped, kLost };
  asio::awaitable<MirrorSend> send_to_mirror(std::string_view messages,
                                             const router::Classification& unit,
                                             bool pipelined = false);
  asio::awaitable<MirrorOutcome> await_mirror(MirrorSend sent, MirrorFrame frame,
                                              const router::Classification& unit,
                                              const HeldAnswer* old_answer);
  // session_parallel.cpp: mirror.ordering parallel.
  bool runs_parallel(const router::Classification& unit) const;
  asio::awaitable<bool> mirror_unit_parallel(std::string_view old_prefix, std::string_view for_old,
                                             std::string_view for_new, std::string_view for_journal,
                                             const router::Classification& unit,
                                             const std::vector<int>& own_parses);
  asio::awaitable<void> settle_pending_mirror();
  struct PendingMirror {  // a write new was sent and has not answered yet
    MirrorSend sent;
    MirrorFrame frame;
    router::Classification unit;
    HeldAnswer old_answer;
    bool unpinned;
  };
  asio::awaitable<MirrorOutcome> end_mirror_transaction(bool commit);
  asio::awaitable<bool> send_ready(char status);

  // session_defaults.cpp: column defaults that differ per server, pinned for mirrored INSERTs.
  struct TableDefaults {
    std::vector<router::TableColumn> columns;
    std::vector<router::DefaultKind> kinds;
  };
  asio::awaitable<const TableDefaults*> table_defaults(const router::InsertShape& shape);
  struct DefaultsPlan {
    std::vector<router::InsertShape> shapes;
    std::vector<const std::vector<router::TableColumn>*> tables;  // one per shape
    std::vector<router::FilledSlot> filled;  // every slot, its value a pinned expression
    struct Evaluation {  // a slot whose value old must compute; its value left empty
      size_t slot;       // in filled
      const router::TableColumn* column;
      const router::DefaultKind* kind;
    };
    std::vector<Evaluation> evaluated;
    std::string unpinned;  // the targets whose differing defaults cannot be pinned
  };
  asio::awaitable<std::string> pin_defaults(std::string_view sql,
                                            const router::Classification& unit);
  asio::awaitable<std::optional<DefaultsPlan>> plan_defaults(std::string_view sql,
                                                             uint64_t fingerprint,
                                                             std::string_view transaction,
                                                             std::string_view statement);
  asio::awaitable<std::optional<std::vector<std::optional<std::string>>>> evaluate_on_old(
      const std::vector<std::string>& expressions);
  void forget_table_defaults();
  asio::awaitable<std::optional<HeldAnswer>> query_own_on_old(std::string_view sql);

  // session_pinning.cpp: time functions pinned in a Query's text; in the extended protocol,
  // time functions and column defaults pinned through cutover's own statements.
  std::string pin_unit(std::string_view sql, const router::Classification& unit);
  std::pair<std::string, std::string> pinned_instants();
  void note_unpinned(uint64_t fingerprint, const std::string& calls);
  struct BoundPinning {   // what cutover prepares in the place of one client statement
    std::string name{};   // empty: nothing to pin
    std::string parse{};  // its Parse message, whole
    size_t params = 0;    // the client's parameters; then two instants, then `evaluated`
    struct Evaluated {    // a default old computes for each Bind
      std::string expression;
      std::vector<router::TimeCall> time_calls;
    };
    std::vector<Evaluated> evaluated{};
    std::string unpinned{};  // what the statement leaves unpinned: reported
    bool on_old = false;
    bool on_new = false;
    // Values of `evaluated` asked of old ahead, for batches sent in pieces (prefetch_pinnings())
    std::deque<std::vector<std::optional<std::string>>> prefetched{};
  };
  struct PinnedUse {
    const router::BatchPlan::Binding* binding;
    BoundPinning* pin;
  };
  struct PinnedBatch {
    std::string for_old{};
    std::string for_new{};
    std::string for_journal{};
    std::vector<int> own_parses{};               // where cutover's Parses stand among old's
    std::vector<BoundPinning*> parsed_on_old{};  // in that order
    std::vector<BoundPinning*> used{};
  };
  asio::awaitable<std::optional<PinnedBatch>> pin_batch(std::string_view batch,
                                                        const router::BatchPlan& plan);
  PinnedBatch rebind_batch(std::string_view batch, const std::vector<PinnedUse>& uses,
                           const std::vector<std::optional<std::string>>& values,
                           const std::string& transaction, const std::string& statement);
  void note_pinned_batch(const PinnedBatch& pinned, uint64_t parse_completes);
  asio::awaitable<bool> refresh_pinnings();
  asio::awaitable<bool> prefetch_pinnings(std::string_view piece, const router::BatchPlan& plan,
                                          std::string& pending);
  static bool pinned_kind(router::Kind kind);
  struct PinnedPiece {
    std::string for_old;
    std::vector<int> own_parses;  // where cutover's Parses stand among the piece's
  };
  std::optional<PinnedPiece> pin_piece(std::string_view piece, const router::BatchPlan& plan);
  void settle_streamed_pinnings(uint64_t parse_completes);
  asio::awaitable<BoundPinning*> bound_pinning(const router::BatchPlan::Binding& binding);
  void forget_bound_pinnings();
  void pinnings_lost(bool on_old);

  // session_journal.cpp: the journal's side of mirroring.
  // Why a journaled transaction's units do not go to new (compared by address).
  static constexpr std::string_view kJournaledRoute = "new is behind: the transaction is journaled";
  asio::awaitable<void> join_mirror_transaction(const router::Classification& unit);
  void reserve_journal_place(bool may_commit);
  void note_mirror(MirrorOutcome outcome, const router::Classification& unit);
  asio::awaitable<bool> settle_mirror_transaction(bool committed);

  // session_extended.cpp: extended-query batches (Parse ... Sync) routed as one unit.
  asio::awaitable<bool> route_extended(char type, std::string_view whole, std::string& pending);
  asio::awaitable<bool> run_batch(std::string& pending);
  asio::awaitable<bool> commit_batch_to_old(std::string& pending);
  asio::awaitable<bool> send_batch_to_old(std::string_view batch, const router::BatchPlan& plan,
                                          std::string& pending);
  asio::awaitable<bool> send_piece_to_old(std::string_view piece, const router::BatchPlan& plan,
                                          std::string& pending);
  asio::awaitable<bool> copy_batch_to_new(std::string_view batch, const router::BatchPlan& plan);
  router::BatchPlan plan_batch(std::string_view batch, bool new_is_empty = false);
  void note_batch(const router::BatchPlan& plan);

  // session_roles.cpp: which database each connection serves, and switching them.
  // Names in this class say "old" and "new" as in dual_write: backend_ (old's) is the source
  // of truth's connection, whose answers the client gets, and new_backend_ the other
  // database's. A promotion swaps the two, and from then on primary_ says backend_ is new.
  router::Backend database_of(router::Backend side) const {
    return primary_ == router::Backend::kOld ? side : router::other(side);
  }
  bool roles_changed() const;
  asio::awaitable<void> wait_while_held();
  asio::awaitable<bool> switch_roles();
  asio::awaitable<bool> prepare_everything_on_new();
  void swap_connections();
  void retire_mirror();

  // session.cpp
  asio::awaitable<End> relay();
  asio::awaitable<End> relay_both_ways();
  asio::awaitable<End> pump_client();
  asio::awaitable<End> pump_backend();
  asio::awaitable<End> watch_shutdown();
  asio::awaitable<End> watch_idle();
  asio::awaitable<void> finish(End end);
  asio::awaitable<void> send_fatal(std::string_view sqlstate, std::string_view message);
  asio::awaitable<bool> write_bounded(Stream& stream, std::string_view bytes);
  asio::awaitable<ErrorCode> write_all(Stream& stream, std::string_view bytes);
  asio::awaitable<ErrorCode> read_from_new();
  asio::awaitable<std::optional<Message>> next_from_new(protocol::ProtocolError& error);
  asio::awaitable<std::pair<ErrorCode, size_t>> read_ready(Stream& stream,
                                                           asio::mutable_buffer buffer,
                                                           bool& buffer_filled);
  asio::awaitable<bool> write_to_client(std::string_view bytes);
  void count_client_message(char type);
  void count_backend_message(char type, std::string_view body);
  bool idle() const;
  bool can_write_to_client() const;

  Stream client_;
  Stream backend_;
  ProxyContext& context_;
  SessionSet& siblings_;
  const Config& config_;
  std::shared_ptr<const Secrets> secrets_;  // as they were when the session started
  bool admitted_;
  uint64_t id_;
  std::string client_address_;
  std::string user_;
  std::string database_;
  std::optional<ClientKey> client_key_;
  router::Backend primary_ = router::Backend::kOld;  // the database backend_ is connected to
  LoginIdentity primary_identity_;                   // who cutover logged in as there
  std::optional<protocol::BackendKeyData> primary_key_;
  bool mirror_retired_ = false;  // decommissioned: the other database gets nothing more
  bool switch_timed_out_ = false;
  Timer hold_signal_;  // cancelled by release_hold()

  // new's connection, in dual_write: used for the reads the policy sends there; session state
  // (SET, PREPARE, ...) is copied to it so reads see the same settings.
  Stream new_backend_;
  std::string new_in_;
  bool new_ready_ = false;
  // standard_conforming_strings is off: '\' escapes in plain literals, which the classifier
  // (like libpg_query) does not expect, so nothing of this session is read as a read.
  bool nonstandard_strings_ = false;
  bool new_wanted_ = true;  // false once new cannot be given this session's state
  LoginIdentity new_identity_;
  std::vector<std::string> session_log_;  // session-state units, for replay on a fresh new
  size_t session_log_bytes_ = 0;
  Timer new_down_signal_;  // cancelled by drop_new() to wake maintain_new()
  // A read on new that has no first answer within fallback.timeout_ms is cancelled by
  // watch_new_reads(), whose timer is not touched per read (arming a timer for every read
  // costs a timerfd_settime and a trip through the scheduler each time).
  Timer new_read_timer_;
  std::chrono::steady_clock::time_point new_read_started_{};
  std::chrono::milliseconds new_wait_limit_{};  // for the wait new_read_started_ began
  bool awaiting_new_ = false;
  bool new_read_timed_out_ = false;
  std::optional<protocol::BackendKeyData> new_key_;
  // While new's answer is relayed, old's pump holds unsolicited messages (NOTIFY, notices)
  // back so the two never interleave on the client's stream.
  bool client_writes_held_ = false;
  Timer client_writes_signal_;
  int new_replies_to_discard_ = 0;  // ReadyForQuery still owed for copied session units
  char new_status_ = 'I';           // new's transaction status, from its last ReadyForQuery
  // A mirrored write failed on new inside a transaction: the rest of that transaction is not
  // applied there, and it ends with a ROLLBACK on new.
  std::string_view mirror_broken_{};  // why; empty while new's transaction is whole
  bool mirror_applied_ = false;       // the last unit sent to new ran there without an error
  bool mirror_unpinned_ = false;      // the unit calls what cutover could not pin (random(), ...)
  std::deque<PendingMirror> mirror_pending_;        // parallel ordering: new's answers still owed
  std::unordered_set<uint64_t> unpinned_reported_;  // fingerprints logged as such already
  // The current transaction's mirrored units (self-contained), and whether new missed any:
  // journaled when old commits (settle_mirror_transaction()). mirror_txn_ is its place in
  // the journal's view (live or journaled, and a reserved sequence around old's commit).
  std::unique_ptr<MirrorJournal::Transaction> mirror_txn_;
  KeptMessages mirror_txn_units_;
  std::optional<verify::JournalRecord::Outcome> mirror_txn_lost_;
  uint64_t mirror_txn_fingerprint_ = 0;
  uint64_t new_transaction_id_ = 0;  // new's id for its open transaction, once asked (0: unknown)
  std::string pinned_transaction_time_;  // what now() is in this transaction, once pinned
  // INSERT targets' columns, by quoted name, as of ProxyContext::schema_version.
  std::unordered_map<std::string, TableDefaults> defaults_cache_;
  uint64_t defaults_schema_version_ = 0;
  std::unordered_set<uint64_t> defaults_unneeded_;  // fingerprints of INSERTs with none to pin
  bool schema_changed_ = false;  // DDL ran in the open transaction: a new version at its end
  // cutover's statements for the extended protocol, by the client's Parse message (whole), as
  // of ProxyContext::schema_version; and those forgotten that a server still has.
  std::unordered_map<std::string, BoundPinning> bound_pinnings_;
  uint64_t pinnings_schema_version_ = 0;
  uint64_t pinned_names_ = 0;  // names given so far: each statement gets a fresh one
  std::vector<std::string> pinned_to_close_on_old_;
  std::vector<std::string> pinned_to_close_on_new_;
  // Of the batch going to old in pieces: cutover's statements it prepared on old, and whether
  // it binds a statement cutover could not pin.
  std::vector<BoundPinning*> streamed_pinnings_;
  bool partial_unpinned_ = false;
  // ParseCompletes of cutover's statements taken out of old's answer to the current batch:
  // the first that many of them are on old now (after an error, old parses nothing more).
  uint64_t own_parses_taken_out_ = 0;
  // The client pump waits for old's answer to a mirrored unit: pump_backend() wakes it once
  // old owes nothing and the bytes went out to the client.
  bool awaiting_old_ = false;
  bool old_chunk_unsent_ = false;
  Timer old_answer_signal_;
  router::SessionView view_;  // what the policy knows of this session
  // Extended-query messages of the batch being gathered, up to its Sync; once a batch cannot
  // be held whole (a Flush, or it spans reads from the client) the rest goes to old as it comes.
  std::string batch_;
  bool batch_to_old_ = false;
  int batch_parses_on_old_ = 0;  // Parse messages of the current batch already sent to old
  KeptMessages partial_batch_;   // what went to old of it, for mirroring at its Sync
  // A COPY FROM STDIN being mirrored (mirror_copy()): the Query and its data so far.
  bool copy_mirrored_ = false;
  bool copy_refused_ = false;  // too large to mirror: old got a CopyFail, the rest is dropped
  router::Classification copy_unit_;
  KeptMessages copy_kept_;
  router::PreparedStatements statements_;
  ReplyFilter old_filter_;  // takes out the answers to what cutover sent old itself
  std::string application_name_;

  std::string client_in_;   // client bytes read during startup, not yet relayed
  std::string backend_in_;  // backend bytes read during login, not yet relayed
  std::unique_ptr<char[]> client_buffer_;
  std::unique_ptr<char[]> backend_buffer_;
  std::unique_ptr<char[]> new_buffer_;
  protocol::FrameScanner client_scanner_;
  protocol::FrameScanner backend_scanner_;
  protocol::ProtocolError protocol_error_{};

  int pending_replies_ = 0;        // ReadyForQuery messages the backend still owes
  int syncs_since_execute_ = 0;    // Syncs sent after the latest Execute or Query
  bool copy_in_ = false;           // the backend is copying in (CopyInResponse seen)
  char transaction_status_ = 'I';  // from the last ReadyForQuery
  char last_backend_type_ = '\0';
  bool client_write_whole_ = true;   // no write to the client was cut short
  bool client_at_boundary_ = true;   // what the client got so far ends with a whole message
  bool backend_write_whole_ = true;  // no write to the backend was cut short
  bool draining_ = false;
  bool terminating_ = false;
  Timer shutdown_signal_;  // cancelled by drain()/terminate() to wake watch_shutdown()
  // The last client message or ReadyForQuery: what the idle timeout measures from.
  std::chrono::steady_clock::time_point last_activity_;
};

}  // namespace cutover::proxy
