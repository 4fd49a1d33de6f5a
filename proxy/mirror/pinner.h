// Pinning: the values a mirrored statement computes per server made the same on both. Time
// functions become cutover's clock (one instant per transaction, statement_timestamp() one per
// statement); column defaults that differ per server (serial and identity keys,
// gen_random_uuid(), now() in a DEFAULT) are evaluated once, on the source of truth, and
// written into the statement. In a simple Query the values go into the text; in the extended
// protocol cutover prepares a statement of its own (the client's text with those values as
// extra parameters) and rebinds the client's Binds to it (router/bound_pinning.h). What cannot
// be pinned is logged once per statement (mirror_nondeterministic) and reported through
// unpinned(), so the comparator marks the pair instead of accepting it silently.
// Not the text surgery itself (router/pinning.h, router/insert_defaults.h), nor the running of
// units on either server (the mirror, session_mirror.cpp).
#pragma once

#include <atomic>
#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "proxy/link/reply_filter.h"
#include "proxy/mirror/effect_planner.h"
#include "proxy/mirror/source_of_truth.h"
#include "proxy/mirror/witnessing.h"
#include "proxy/net/asio.h"
#include "router/bound_pinning.h"
#include "router/classify.h"
#include "router/extended.h"
#include "router/insert_defaults.h"

namespace cutover::proxy {

class Pinner {
 public:
  // `schema_version` counts DDL seen by any session: what was learnt of tables before is stale.
  Pinner(SourceOfTruth& source, const std::atomic<uint64_t>& schema_version, uint64_t conn_id)
      : source_(source),
        schema_version_(schema_version),
        conn_id_(conn_id),
        effects_(source, schema_version) {}

  // Which UPDATEs and DELETEs are mirrored by their effect (the mirror asks it for a Query;
  // pin_batch() for a prepared statement).
  EffectPlanner& effects() { return effects_; }

  // A mirrored unit starts: a new transaction gets a new instant, and nothing is unpinned yet.
  void start_unit();
  // Whether the unit since start_unit() calls what could not be pinned (random(), ...).
  bool unpinned() const { return unpinned_; }
  const router::TextMap& rewrites() const { return rewrites_; }
  // What of it the unit stores although each server computes its own (a write calling
  // random(), an INSERT ... SELECT with volatile defaults): empty when nothing; such a write
  // is refused or, when allowed, an open divergence.
  const std::string& unsafe() const { return unsafe_; }
  // Why a statement the unit binds can be mirrored neither as a statement nor by its effect
  // (EffectPlanner::Verdict::problem): empty when nothing; such a unit is refused or, when
  // allowed, an open divergence (the mirror decides).
  const std::string& data_dependent() const { return data_dependent_; }
  // Logs a statement whose values cannot be pinned (once per session and fingerprint) and
  // marks the current unit unpinned; note_unsafe() also marks it unsafe.
  void note_unpinned(uint64_t fingerprint, const std::string& what);
  void note_unsafe(uint64_t fingerprint, const std::string& what);
  // standard_conforming_strings as the session has it: when off, '\' escapes in literals that
  // the parser does not expect, so nothing is pinned (and the unit is reported unpinned).
  void set_standard_strings(bool on) { standard_strings_ = on; }
  // migration.mirror.compare is effects: prepared writes return witnesses of the rows they
  // change (where their Binds run once, whole, in a batch not sent in pieces; and writes by
  // their effect), for the comparator.
  void set_witnessing(bool on) { witnessing_ = on; }

  // Simple protocol: a Query's text with its time functions pinned (empty: nothing to pin),
  // and then with its INSERTs' differing defaults evaluated on the source and written in.
  // rewrites() says where the unit's text changed (for the positions of old's errors).
  std::string pin_text(std::string_view sql, const router::Classification& unit);
  // A Query calling functions cutover does not know (Classification::calls_unknown_functions):
  // one of them volatile in a statement that stores rows makes the unit unsafe, as random()
  // does (pinner_functions.cpp).
  asio::awaitable<void> note_volatile_calls(std::string_view sql,
                                            const router::Classification& unit);
  asio::awaitable<std::string> pin_defaults(std::string_view sql,
                                            const router::Classification& unit);
  // COPY FROM STDIN: what it leaves to defaults that differ per server, which cannot be
  // pinned in a COPY ("defaults of t (id, at)"); empty when nothing. Asks old: old idle.
  asio::awaitable<std::string> copy_defaults(std::string_view sql);

  // Extended protocol, a whole batch (the source idle): the batch for old, new and the
  // journal with its Binds of statements that need pinning turned into Binds of cutover's
  // statements; nullopt when it has none (or they cannot be pinned: then reported).
  struct PinnedStatement;
  struct PinnedBatch {
    std::string for_old{};
    std::string for_new{};
    std::string for_journal{};
    std::vector<int> own_parses{};                  // where cutover's Parses stand among old's
    std::vector<PinnedStatement*> parsed_on_old{};  // in that order
    std::vector<PinnedStatement*> used{};
    // Binds of writes mirrored by their effect: how old's answer is filtered (by the place of
    // each Execute and Describe answer), and what new and the journal get once old's keys are
    // known (with_keys()); for_new and for_journal are left empty then.
    std::vector<ReplyFilter::Taken> executes{};
    std::vector<ReplyFilter::Taken> describes{};
    Witnessing witnessing{};    // which Executes' answers hold witnesses, on both sides
    struct KeyedBind {          // by value: cutover's statements may be forgotten before the Sync
      std::string statement{};  // cutover's
      size_t params = 0;        // the client's parameters (PinnedStatement::params)
      std::string bind{};       // the client's Bind, its body
      std::vector<std::optional<std::string>> extra{};
      int execute = 0;              // its Execute's place among the batch's Executes
      std::string new_parse{};      // in front of it on new (empty: new has the statement)
      std::string journal_parse{};  // ... in the journal's (empty: an earlier Bind has it)
      size_t at_new = 0;            // its place in new_replacements
      size_t at_journal = 0;        // ... and journal_replacements
      bool witnessed = false;       // new's statement returns witnesses too
    };
    std::vector<KeyedBind> keyed{};
    std::string new_closes{};
    std::vector<router::Replacement> new_replacements{};
    std::vector<router::Replacement> journal_replacements{};
  };
  asio::awaitable<std::optional<PinnedBatch>> pin_batch(std::string_view batch,
                                                        const router::BatchPlan& plan);
  // For a pinned batch with keyed Binds, once old answered it (`batch` the client's): new's
  // batch and the journal's, each Bind given the keys its Execute returned on old; nullopt
  // when old's answer does not hold them.
  struct ForNew {
    std::string for_new;
    std::string for_journal;
  };
  static std::optional<ForNew> with_keys(const PinnedBatch& pinned, std::string_view batch,
                                         const HeldAnswer& old_answer);
  // The same for a batch sent in pieces (`batch` as new was to get it, keyed Binds without
  // their keys): each Bind of `keyed`, in order, given its keys; nullopt as above.
  static std::optional<std::string> with_streamed_keys(
      const std::vector<PinnedBatch::KeyedBind>& keyed, std::string_view batch,
      const HeldAnswer& old_answer);
  // After the pinned batch ran: `parse_completes` of old's ParseCompletes for cutover's
  // statements were taken out (in order); `ran_on_new`: new ran the batch whole.
  void batch_ran(const PinnedBatch& pinned, uint64_t parse_completes, bool ran_on_new);

  // Extended protocol, a batch sent in pieces: it cannot stop for questions to the source
  // once it began, so the values the source must compute are asked first. prefetch_wanted()
  // says whether there are any; the caller makes the source idle, then prefetch() asks.
  std::vector<router::BatchPlan::Binding> prefetch_wanted(std::string_view piece,
                                                          const router::BatchPlan& plan) const;
  asio::awaitable<bool> prefetch(const std::vector<router::BatchPlan::Binding>& wanted);
  struct PinnedPiece {
    std::string for_old{};
    std::string for_new{};          // what new is to get of the piece, at the batch's Sync
    std::vector<int> own_parses{};  // where cutover's Parses stand among the piece's
    // What the filter takes of old's answer, by the place of each Execute and Describe in the
    // whole batch (as PinnedBatch's): the piece's writes by their effect.
    std::vector<ReplyFilter::Taken> executes{};
    std::vector<ReplyFilter::Taken> describes{};
  };
  // `by_effect`: old's answer is watched (ReplyFilter::observe()), so writes by their effect
  // whose Bind and Execute are in the piece may be bound (their keys taken out as above).
  std::optional<PinnedPiece> pin_piece(std::string_view piece, const router::BatchPlan& plan,
                                       bool by_effect);
  // A piece that goes to old as the client sent it: what it binds that needed pinning (or
  // runs by its effect) is reported, an open divergence.
  void piece_unpinned(const router::BatchPlan& plan);
  // Whether the batch going in pieces bound a statement that could not be pinned.
  bool streamed_unpinned() const { return streamed_unpinned_; }
  // ... and one storing what each server computes for itself (see unsafe()): it cannot be
  // refused any more, old has begun running it.
  bool streamed_unsafe() const { return streamed_unsafe_; }
  // The batch sent in pieces is over (`parse_completes` as for batch_ran()): its keyed Binds,
  // for with_streamed_keys(), and which Executes' answers hold witnesses (theirs).
  struct StreamedBatch {
    std::vector<PinnedBatch::KeyedBind> keyed;
    Witnessing witnessing;
  };
  StreamedBatch streamed_batch_over(uint64_t parse_completes);

  // What names mean may have changed (SET search_path, ...): forget tables and statements.
  void settings_changed();
  // cutover's statements are gone from both servers (DISCARD ALL, DEALLOCATE ALL), or from
  // the mirror's only (a fresh connection there).
  void statements_lost(bool on_both);
  // The two connections traded places (a role switch): what is on which side turns around,
  // and the tables are read from the other database's catalog from now on.
  void swap_sides();

  // What cutover prepares in the place of one client statement.
  struct PinnedStatement {
    std::string name{};   // empty: nothing to pin
    std::string parse{};  // its Parse message, whole
    size_t params = 0;    // the client's parameters; then two instants, then `evaluated`
    struct Evaluated {    // a default the source computes for each Bind
      std::string expression;
      std::vector<router::TimeCall> time_calls;
    };
    std::vector<Evaluated> evaluated{};
    std::string unpinned{};  // what the statement leaves unpinned: reported
    std::string unsafe{};    // what of that it stores (see unsafe())
    // A write mirrored by its effect (effect_planner.h): `parse` returns the keys of the rows
    // it changed, on old; new gets `new_parse` under the same name, on those keys (one more
    // parameter, last). `returning`: the client's own RETURNING, so the keys come last.
    std::string new_parse{};
    bool returning = false;
    // The table whose rows it returns witnesses of, on both sides (a write by its effect, or
    // the variant below); empty when none.
    std::string witnesses_of{};
    // The same statement returning witnesses, run as it is on both sides: a Bind executed once,
    // whole, in its batch uses it (it is kept in statements_ too). Null when there is none.
    PinnedStatement* witnessed = nullptr;
    std::string data_dependent{};  // see data_dependent()
    bool on_old = false;           // prepared on the source of truth's connection
    bool on_new = false;           // ... on the mirror's
    // Values of `evaluated` asked of the source ahead, for batches sent in pieces
    std::deque<std::vector<std::optional<std::string>>> prefetched{};
  };

 private:
  struct TableDefaults {
    std::vector<router::TableColumn> columns;
    std::vector<router::DefaultKind> kinds;
  };
  struct DefaultsPlan {
    std::vector<router::InsertShape> shapes;
    std::vector<const std::vector<router::TableColumn>*> tables;  // one per shape
    std::vector<router::FilledSlot> filled;  // every slot, its value a pinned expression
    struct Evaluation {  // a slot whose value the source must compute; its value left empty
      size_t slot;       // in filled
      const router::TableColumn* column;
      const router::DefaultKind* kind;
    };
    std::vector<Evaluation> evaluated;
    std::string unpinned;  // the targets whose differing defaults cannot be pinned
    std::string unknown;   // targets old does not know (yet): see pin_defaults()
  };
  struct PinnedUse {
    const router::BatchPlan::Binding* binding;
    PinnedStatement* pin;
  };
  using Values = std::vector<std::optional<std::string>>;

  static std::string calls(const std::vector<std::string>& names);
  std::pair<std::string, std::string> instants();
  void report_unpinned(uint64_t fingerprint, const std::string& what);
  // pinner_defaults.cpp
  void tables_as_of_now();
  asio::awaitable<const TableDefaults*> table_defaults(const router::InsertShape& shape);
  asio::awaitable<std::optional<DefaultsPlan>> plan_defaults(std::string_view sql,
                                                             uint64_t fingerprint,
                                                             std::string_view transaction,
                                                             std::string_view statement);
  asio::awaitable<std::optional<Values>> evaluate(const std::vector<std::string>& expressions);
  void forget_tables();
  // pinner_functions.cpp
  asio::awaitable<std::string> volatile_calls(const std::vector<std::string>& names);
  // pinner_extended.cpp
  asio::awaitable<bool> refresh_statements();
  asio::awaitable<PinnedStatement*> statement_for(const router::BatchPlan::Binding& binding);
  // pinner_effect.cpp: `text` (pinned so far) as old's and new's texts when it is mirrored by
  // its effect; sets pin.data_dependent when it can be mirrored neither way.
  struct EffectTexts {
    std::string for_old;
    std::string for_new;
  };
  std::optional<EffectTexts> effect_texts(PinnedStatement& pin, std::string_view text,
                                          EffectPlanner::Verdict verdict);
  // Names `pin` and makes its Parse (and new's, by its effect) from `text`.
  void name_statement(PinnedStatement& pin, std::string_view text,
                      const std::optional<EffectTexts>& effect, const std::vector<int32_t>& types);
  // Completes `pin` (of the client's Parse `parse`, its pinned text `text`, `changed` from the
  // client's) as `verdict` says: a write by its effect, a statement with a witnessed variant,
  // or, changed, a statement pinned.
  void settle_statement(PinnedStatement& pin, const std::string& parse, std::string_view text,
                        bool changed, EffectPlanner::Verdict verdict,
                        const std::vector<int32_t>& types);
  // statement_for() without asking old, in a batch sent in pieces: nullptr when it cannot.
  PinnedStatement* statement_known_now(const router::BatchPlan::Binding& binding);
  // Whether `pin` returns a column more than the client's statement, on old: keys or witnesses.
  static bool adds_column(const PinnedStatement& pin) {
    return !pin.new_parse.empty() || !pin.witnesses_of.empty();
  }
  // Whether a Bind of `pin` can be mirrored by its effect where `binding` stands; noted as an
  // unsafe write when not.
  bool keyable(const PinnedStatement& pin, const router::BatchPlan::Binding& binding);
  // What the filter takes of old's answers to a Bind of `pin` (keys or witnesses), and which
  // hold witnesses; the Bind's Executes and Describes stand after those `before` them.
  struct Taking {
    std::vector<ReplyFilter::Taken>& executes;
    std::vector<ReplyFilter::Taken>& describes;
    Witnessing& witnessing;
    int executes_before = 0;
    int describes_before = 0;
  };
  static void mark_taken(const Taking& taking, const PinnedStatement& pin,
                         const router::BatchPlan::Binding& binding);
  // The Bind of `keyed` with the keys its Execute returned on old; nullopt when the answer
  // does not hold them.
  static std::optional<std::string> keyed_bind(const PinnedBatch::KeyedBind& keyed,
                                               const HeldAnswer& old_answer);
  PinnedBatch rebind(std::string_view batch, const std::vector<PinnedUse>& uses,
                     const Values& values, const std::string& transaction,
                     const std::string& statement);
  void forget_statements();

  SourceOfTruth& source_;
  const std::atomic<uint64_t>& schema_version_;
  const uint64_t conn_id_;
  bool standard_strings_ = true;
  bool witnessing_ = false;
  bool unpinned_ = false;
  std::string unsafe_;
  std::string data_dependent_;
  EffectPlanner effects_;
  router::TextMap rewrites_;      // of the unit's text, since start_unit()
  std::string transaction_time_;  // what now() is in this transaction, once pinned
  std::unordered_set<uint64_t> unpinned_reported_;  // fingerprints logged as such already
  // INSERT targets' columns, by quoted name, as of the schema version.
  std::unordered_map<std::string, TableDefaults> tables_;
  uint64_t tables_version_ = 0;
  std::unordered_set<uint64_t> defaults_unneeded_;  // fingerprints of INSERTs with none to pin
  // Functions as called ("f", "app.f"): whether old has one of that name that is volatile, as
  // of the schema version and settings.
  std::unordered_map<std::string, bool> volatile_functions_;
  uint64_t functions_version_ = 0;
  // cutover's statements, by the client's Parse message (whole), as of the schema version.
  std::unordered_map<std::string, PinnedStatement> statements_;
  uint64_t statements_version_ = 0;
  uint64_t names_given_ = 0;  // each statement gets a fresh name
  // Forgotten statements a server still holds, closed in front of the next pinned batch.
  std::vector<std::string> to_close_on_old_;
  std::vector<std::string> to_close_on_new_;
  // Of the batch going to old in pieces: cutover's statements it prepared on old, and
  // whether it binds a statement that could not be pinned.
  std::vector<PinnedStatement*> streamed_;
  bool streamed_unpinned_ = false;
  bool streamed_unsafe_ = false;
  std::vector<PinnedBatch::KeyedBind> streamed_keyed_;
  Witnessing streamed_witnessing_;
  int streamed_executes_ = 0;  // Executes and Describes in the pieces so far
  int streamed_describes_ = 0;
};

}  // namespace cutover::proxy
