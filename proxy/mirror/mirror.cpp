#include "proxy/mirror/mirror.h"

#include <utility>

#include "proxy/base/log.h"
#include "proxy/mirror/mirror_messages.h"
#include "router/pinning.h"

namespace cutover::proxy {

Mirror::Mirror(Host& host, Links links, Pinner& pinner, ProxyContext& context, uint64_t conn_id,
               const std::string& database, const std::string& user)
    : host_(host),
      primary_(links.primary),
      secondary_(links.secondary),
      new_side_(links.new_side),
      pinner_(pinner),
      context_(context),
      conn_id_(conn_id),
      transaction_(context.journal.get(), conn_id, database, user) {
  pinner_.set_witnessing(context.config.migration.mirror.compare == MirrorCompare::kEffects);
}

// The first mirrored unit of a transaction decides whether it goes to new live or, while new
// is behind, to the journal whole (MirroredTransaction::join()).
asio::awaitable<void> Mirror::join(const router::Classification& unit) {
  const bool journaled = co_await transaction_.join(unit.fingerprint, primary_.status != 'I');
  if (journaled) broken_ = MirrorBreak::kJournaled;
}

// The transaction ended on old; false when a commit new missed could not be journaled
// (failure_ says why: the client must not hear of the commit).
asio::awaitable<bool> Mirror::settle(bool committed) {
  const ErrorCode failed = co_await transaction_.settle(committed, new_side_.state());
  if (failed) failure_ = failed;
  co_return !failed;
}

asio::awaitable<bool> Mirror::drain_new() {
  co_await settle_pending();  // parallel ordering: what new owes for writes comes first
  const bool drained = co_await new_side_.drain();
  co_return drained;
}

bool Mirror::mirrors(const router::Classification& unit) const {
  using router::Kind;
  // COPY's data comes later from the client (copy()); a decommissioned mirror gets none.
  if (unit.copies_in || retired_) return false;
  return unit.kind == Kind::kWrite || unit.kind == Kind::kDdl || unit.kind == Kind::kUnknown ||
         unit.kind == Kind::kTransaction;
}

// Whether an autocommit unit gets cutover's BEGIN and COMMIT around it (see the top). DDL too:
// a long CREATE TABLE AS that new has not finished within mirror.timeout_ms then never
// commits there by itself, so the transaction is journaled and replayed whole, not left in
// doubt.
bool Mirror::wraps(const router::Classification& unit) const {
  using router::Kind;
  return primary_.status == 'I' &&
         (unit.kind == Kind::kWrite || unit.kind == Kind::kUnknown || unit.kind == Kind::kDdl) &&
         !unit.controls_transaction && !unit.refuses_transaction_block;
}

asio::awaitable<bool> Mirror::query(std::string_view whole, const router::Classification& unit,
                                    std::string& pending) {
  if (!co_await host_.forward_to_old(pending)) co_return false;
  --primary_.pending_replies;  // counted when the client sent it; run_on_old() counts what goes out
  if (!co_await host_.wait_for_old()) co_return false;
  pinner_.start_unit();
  const std::string_view sent = query_text(whole);  // the client's text
  std::string pinned;                               // both sides run the pinned text
  if (unit.nondeterministic) {
    const std::string sql = pinner_.pin_text(query_text(whole), unit);
    if (!sql.empty()) {
      append_query(pinned, sql);
      whole = pinned;
    }
  }
  if (unit.inserts) {
    const std::string filled = co_await pinner_.pin_defaults(query_text(whole), unit);
    if (!filled.empty()) {
      pinned.clear();
      append_query(pinned, filled);
      whole = pinned;
    }
  }
  if (unit.calls_unknown_functions) co_await pinner_.note_volatile_calls(sent, unit);
  // Named, no co_await in an if's initializer: GCC 12 miscompiles those in coroutines.
  std::optional<router::Refusal> refusal = unsafe_refusal(unit);
  if (!refusal) refusal = journal_refusal(unit);
  EffectPlanner::Decision effect;
  if (!refusal && (unit.changes_rows || unit.inserts)) {
    const MirrorConfig& mirror = context_.config.migration.mirror;
    const bool allow = mirror.unsafe_writes == UnsafeWrites::kAllow;
    const bool witness = mirror.compare == MirrorCompare::kEffects;
    effect = co_await pinner_.effects().decide(query_text(whole), unit, allow, witness);
    if (effect.refusal) note_refused(*effect.refusal, unit);
    refusal = std::move(effect.refusal);
    if (!effect.unsafe.empty()) pinner_.note_unsafe(unit.fingerprint, effect.unsafe);
  }
  if (refusal) {
    const bool refused = co_await refuse(*refusal, unit);
    co_return refused;
  }
  if (!pinner_.rewrites().empty()) {  // old's errors point into the client's own text
    error_edit_ = in_client_text(sent, query_text(whole), pinner_.rewrites());
  }
  if (effect.plan) co_return co_await by_effect(*effect.plan, query_text(whole), unit);
  co_return co_await this->unit({}, whole, whole, whole, unit);
}

// An extended-protocol batch that writes: old gets it (after the unnamed statement, when old's
// is stale), new gets it after the statements it lacks; what its statements compute per
// server is pinned (pinner.h).
asio::awaitable<bool> Mirror::batch(std::string_view batch, const router::BatchPlan& plan,
                                    std::string_view journal_prefix, std::string& pending) {
  if (!co_await host_.forward_to_old(pending)) co_return false;
  --primary_.pending_replies;  // its Sync, counted when the client sent it
  if (!co_await host_.wait_for_old()) co_return false;
  pinner_.start_unit();
  // Binds of statements the batch does not parse or bind itself go unpinned.
  if (plan.unit.nondeterministic && plan.pinnable.empty()) {
    pinner_.note_unpinned(plan.unit.fingerprint, "extended protocol: not pinned");
  }
  const std::optional<Pinner::PinnedBatch> pinned = co_await pinner_.pin_batch(batch, plan);
  refused_ = false;
  std::optional<router::Refusal> refusal = data_dependent_refusal(plan.unit);
  if (!refusal) refusal = unsafe_refusal(plan.unit);
  if (!refusal) refusal = journal_refusal(plan.unit);
  if (refusal) {
    // The client's batch is answered as if its first message failed: an ErrorResponse, then
    // ReadyForQuery. None of its Parses ran (the dispatcher records so, refused()).
    refused_ = true;
    const bool refused = co_await refuse(*refusal, plan.unit);
    co_return refused;
  }
  // A statement cutover cannot give new (ambiguous, or past the tracking bound): the batch and
  // the rest of its transaction are not applied there.
  if (!plan.new_can_run) broken_ = MirrorBreak::kUnknownStatement;
  const std::string_view to_old = pinned ? std::string_view(pinned->for_old) : batch;
  // With keyed Binds, these serve only should old's answer not hold the keys.
  const bool pinned_for_new = pinned && pinned->keyed.empty();
  const std::string for_new =
      plan.new_prefix + std::string(pinned_for_new ? std::string_view(pinned->for_new) : batch);
  // For the journal: every statement it uses prepared first, as on a fresh connection.
  const std::string for_journal =
      std::string(journal_prefix) +
      std::string(pinned_for_new ? std::string_view(pinned->for_journal) : batch);
  applied_ = false;
  own_parses_taken_out_ = 0;
  static const std::vector<int> no_parses;
  const std::vector<int>& own_parses = pinned ? pinned->own_parses : no_parses;
  pinned_ = pinned ? &*pinned : nullptr;
  if (pinned && !pinned->keyed.empty()) {
    keyed_ = {.pinned = &*pinned,
              .batch = batch,
              .new_prefix = plan.new_prefix,
              .journal_prefix = journal_prefix};
  }
  const bool ran =
      co_await this->unit(plan.old_prefix, to_old, for_new, for_journal, plan.unit, own_parses);
  keyed_ = {};
  pinned_ = nullptr;
  if (!ran) co_return false;
  if (pinned) pinner_.batch_ran(*pinned, own_parses_taken_out_, applied_);
  co_return true;
}

asio::awaitable<bool> Mirror::streamed_batch(std::string_view sync, std::string_view batch,
                                             const router::BatchPlan& plan,
                                             std::string_view journal_prefix, bool kept_whole,
                                             std::string& pending) {
  const bool unpinned = pinner_.streamed_unpinned();  // its Binds were pinned as they came
  const bool unsafe = pinner_.streamed_unsafe();
  if (!co_await host_.forward_to_old(pending)) co_return false;
  co_await settle_pending();  // before its Sync lets old end the transaction
  co_await join(plan.unit);
  transaction_.reserve(primary_.status == 'I' || plan.unit.controls_transaction);
  if (primary_.status == 'I' || plan.unit.commits) co_await admit_commit();
  // Its ReadyForQuery comes after those of the units still owed before this Sync.
  primary_.filter.hold_ready(primary_.pending_replies - 1);
  --primary_.pending_replies;  // the Sync, counted when the client sent it; run_on_old() counts it
  auto answer = co_await host_.run_on_old(sync, 1);
  if (!answer) co_return false;
  old_answered();
  const Pinner::StreamedBatch streamed = pinner_.streamed_batch_over(own_parses_taken_out_);
  const std::vector<Pinner::PinnedBatch::KeyedBind>& keyed = streamed.keyed;
  if (!kept_whole || !plan.new_can_run) broken_ = MirrorBreak::kBatchNotKept;
  const std::string for_new = plan.new_prefix + std::string(batch);
  const std::string for_journal = std::string(journal_prefix) + std::string(batch);
  applied_ = false;
  streamed_witnessing_ = &streamed.witnessing;
  if (!keyed.empty() && kept_whole) {
    keyed_ = {.streamed = &keyed,
              .batch = batch,
              .new_prefix = plan.new_prefix,
              .journal_prefix = journal_prefix};
  }
  const bool ran =
      co_await after_old(*answer, false, for_new, for_journal, plan.unit, unpinned, unsafe);
  keyed_ = {};
  streamed_witnessing_ = nullptr;
  co_return ran;
}

// Runs one unit on old (after `old_prefix`, whose ParseComplete is taken out, as are those of
// cutover's Parses `own_parses` Parses into the unit, for pinning), then on new as
// `for_new`, with cutover's BEGIN/COMMIT around an autocommit write (see the top). The
// transaction's units are kept as `for_journal` (self-contained) until it ends: if new missed
// any of them and old committed, the whole transaction goes to the journal before the client
// hears of the commit.
asio::awaitable<bool> Mirror::unit(std::string_view old_prefix, std::string_view for_old,
                                   std::string_view for_new, std::string_view for_journal,
                                   const router::Classification& unit,
                                   const std::vector<int>& own_parses) {
  if (runs_parallel(unit)) {
    co_return co_await unit_parallel(old_prefix, for_old, for_new, for_journal, unit, own_parses);
  }
  co_await settle_pending();      // before old may end the transaction
  const bool wrap = wraps(unit);  // old owes nothing now: its status is the session's
  co_await join(unit);
  if (unit.kind != router::Kind::kTransaction) transaction_.wrote();
  // It may commit: a COMMIT, or a statement old runs outside a transaction block (a BEGIN, a
  // SAVEPOINT or a ROLLBACK needs no intent).
  if (!wrap && (unit.commits || (primary_.status == 'I' && !unit.controls_transaction))) {
    const std::optional<router::Refusal> refusal = co_await journal_first(for_journal, unit);
    if (refusal) {
      const bool refused = co_await refuse_commit(*refusal);
      co_return refused;
    }
    co_await admit_commit();
  }
  std::string to_old;
  if (wrap) {
    append_query(to_old, "BEGIN");
    primary_.filter.drop_answer(0);
  }
  if (!old_prefix.empty()) primary_.filter.drop_parse_complete(wrap ? 1 : 0, 0);
  for (const int parses_before : own_parses) {  // cutover's statements for pinning
    primary_.filter.drop_parse_complete(wrap ? 1 : 0, parses_before + (old_prefix.empty() ? 0 : 1),
                                        &own_parses_taken_out_);
  }
  primary_.filter.hold_ready(wrap ? 1 : 0, holding());
  to_old.append(old_prefix);
  to_old.append(for_old);
  // Old's id for the transaction, for its intent (mirror_commit.cpp), pipelined with its write.
  const bool ask = asks_source_id(unit, wrap);
  if (ask) {
    primary_.filter.keep_answer(wrap ? 2 : 1);
    append_query(to_old, kAskTransactionId);
  }
  auto answer = co_await host_.run_on_old(to_old, (wrap ? 2 : 1) + (ask ? 1 : 0));
  if (!answer) co_return false;
  old_answered();
  if (ask) {
    const std::optional<HeldAnswer> kept = host_.take_kept_answer();
    if (kept) note_source_id(*kept);
  }
  co_return co_await after_old(*answer, wrap, for_new, for_journal, unit, pinner_.unpinned(),
                               !pinner_.unsafe().empty());
}

// The rest of a mirrored unit once old has answered it (its ReadyForQuery held): new runs it
// unless old refused it, cutover's COMMIT follows a wrapped write, and a transaction that
// ended is settled (journaled if new missed part of it) before the client hears of it.
asio::awaitable<bool> Mirror::after_old(const HeldAnswer& held, bool wrap, std::string_view for_new,
                                        std::string_view for_journal,
                                        const router::Classification& unit, bool unpinned,
                                        bool unsafe) {
  std::string to_old;
  if (!held.sqlstate.empty()) {
    // Old refused it: nothing of it reaches new. A wrapped write is rolled back on old; a
    // transaction old ended with the error ends on new too.
    if (wrap) {
      append_query(to_old, "ROLLBACK");
      const bool rolled_back = co_await host_.run_own(to_old);
      if (!rolled_back) co_return false;
    }
    const char status = wrap ? 'I' : held.status;
    if (status != 'I') co_await transaction_.still_open();
    if (status == 'I') {
      co_await end_new_transaction(false);
      if (!co_await settle(false)) co_return false;
    }
    co_return co_await send_ready(status);
  }
  std::string keyed_new;  // mirrored by its effect: new's text, made from old's answer
  std::string keyed_journal;
  if (runs_by_effect()) {
    if (keyed_texts(held, keyed_new, keyed_journal)) {
      for_new = keyed_new;
      for_journal = keyed_journal;
    } else {  // not the keys asked for: new and the journal get the statement, reported
      log::error("mirror_keys_unreadable", {{"conn", conn_id_},
                                            {"fingerprint", log::hex(unit.fingerprint)},
                                            {"rows", held.data_rows.size()}});
      unsafe = true;
    }
  }
  // A COMMIT old answered with ROLLBACK (its transaction had failed) rolls new back too.
  const bool old_rolled_back =
      held.status == 'I' && !held.tags.empty() && held.tags.back() == "ROLLBACK";
  std::string to_new;
  Frame frame{.begin = wrap,
              .ends_transaction = !wrap && held.status == 'I',
              .unpinned = unpinned,
              .witnessed = &witnessing_};
  witnessing_ = witnessing();
  if (wrap) {
    append_query(to_new, "BEGIN");
    transaction_.keep(to_new);
  }
  if (old_rolled_back) {
    append_query(to_new, "ROLLBACK");
  } else {
    to_new.append(for_new);
    transaction_.keep(for_journal);
    // Until new's transaction has an id, ask for it after each write that leaves it open.
    frame.ask_transaction_id = transaction_.new_transaction_id() == 0 &&
                               !unit.controls_transaction && (wrap || secondary_.status == 'T');
    if (frame.ask_transaction_id) append_query(to_new, kAskTransactionId);
  }
  transaction_.note(co_await run_on_new(to_new, frame, unit, old_rolled_back ? nullptr : &held),
                    unit.fingerprint);
  if (unsafe && !old_rolled_back) note_unpinned_write(unit);
  char status = held.status;
  bool committed = !old_rolled_back;  // what old did, once status says the transaction ended
  if (wrap) {
    to_old.clear();
    append_query(to_old, "COMMIT");
    const std::optional<router::Refusal> refusal = co_await journal_first(to_old, unit);
    if (refusal) {
      const bool refused = co_await refuse_commit(*refusal);
      co_return refused;
    }
    // Its tag is cutover's; an error still reaches the client.
    primary_.filter.hold_ready(0, {.drop_tags = true});
    co_await admit_commit();
    auto commit = co_await host_.run_on_old(to_old, 1);
    if (!commit) co_return false;
    status = commit->status;
    committed = commit->sqlstate.empty();
    if (committed) transaction_.keep(to_old);
    transaction_.note(co_await end_new_transaction(committed), unit.fingerprint);
  } else if (status == 'I') {
    transaction_.note(co_await end_new_transaction(false),
                      unit.fingerprint);  // acts when new's broke
  }
  if (status != 'I') co_await transaction_.still_open();  // it did not end
  if (status == 'I' && !co_await settle(committed)) co_return false;
  co_return co_await send_ready(status);
}

// Old and new each computed values of their own for this write: equal only by chance until
// verification says so.
void Mirror::note_unpinned_write(const router::Classification& unit) {
  context_.divergences->note({.kind = "unpinned_write",
                              .fingerprint = unit.fingerprint,
                              .detail = "calls something cutover could not pin "
                                        "(mirror_nondeterministic names it)"},
                             unit.tables);
}

// The ReadyForQuery that ends a mirrored unit for the client, written the way new's answers
// are (never in the middle of something old's relay is writing).
asio::awaitable<bool> Mirror::send_ready(char status) {
  if (status == 'I') broken_ = MirrorBreak::kNone;
  committing_.reset();  // new's side of a commit is done, or never will be
  const bool sent = co_await host_.send_ready_to_client(status);
  co_return sent;
}

// Hands both answers to the comparator (off the client's path; a full queue counts a drop).
void Mirror::compare(verify::WriteAnswer on_primary, verify::WriteAnswer on_secondary,
                     const router::Classification& unit, bool nondeterministic, bool shadow_read,
                     std::string effect_table) {
  verify::WritePair pair{.fingerprint = unit.fingerprint,
                         .connection_id = conn_id_,
                         .unix_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                                        std::chrono::system_clock::now().time_since_epoch())
                                        .count(),
                         .nondeterministic = nondeterministic,
                         .shadow_read = shadow_read,
                         .tables = unit.tables,
                         .effect_table = std::move(effect_table),
                         .old_side = std::move(on_primary),
                         .new_side = std::move(on_secondary)};
  if (primary_.database == router::Backend::kNew) std::swap(pair.old_side, pair.new_side);
  const uint64_t fingerprint = pair.fingerprint;
  if (context_.comparator->submit(std::move(pair))) return;
  // Not compared: whether new took it the same way is unknown until verification says so.
  context_.divergences->note({.kind = "comparator_dropped",
                              .fingerprint = fingerprint,
                              .detail = "the comparator's queue was full: not compared"},
                             unit.tables);
}

}  // namespace cutover::proxy
