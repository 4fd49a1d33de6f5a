// Extended-query batches as units of work: what a batch of Parse/Bind/Describe/Execute/Close
// messages up to Sync executes, whether it may run on new, and which prepared statements a
// database must be given before it can run the batch. A named prepared statement is
// classified once, when it is parsed, and prepared on new only when a batch first needs it
// there. Pure bookkeeping: the proxy sends the bytes (proxy/session/session_extended.cpp).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "router/classify.h"

namespace cutover::router {

// Adds `unit` to `into`, a unit of several statements: the highest kind wins, flags and tables
// add up, the first fingerprint names the whole.
void merge(Classification& into, const Classification& unit);

struct BatchPlan {
  Classification unit{.kind = Kind::kRead};  // merged over the statements the batch executes
  bool executes = false;                     // has an Execute (else it only prepares/describes)
  // May run on new: its portals are bound in the batch, its statements are known here, and it
  // parses no named statement (old stays the home of every named statement).
  bool movable = true;
  // new can run it as a mirror once given new_prefix: every statement and portal it uses is
  // known here (a named Parse is fine: new parses it too).
  bool new_can_run = true;
  std::string new_prefix;      // Close + Parse for each statement new lacks, sent first
  int new_prefix_replies = 0;  // answers (CloseComplete, ParseComplete) the prefix adds on new
  std::string old_prefix;      // Parse of the unnamed statement when old's copy is not the current
  std::vector<std::string> prepared_on_new{};  // statements the prefix prepares on new
  std::vector<Classification> parsed{};        // one per Parse in the batch, in order
  // Each Bind of a statement whose values may need pinning (an INSERT, or a call of now() or
  // the like) or whose rows may follow from other data (an UPDATE or DELETE, see
  // row_effect.h), with what its statement is.
  struct Binding {
    size_t message = 0;          // the Bind's place in the batch, counting messages from 0
    std::string parse{};         // the statement's Parse message, whole
    uint64_t fingerprint = 0;    // Classification::fingerprint of the statement
    Kind kind = Kind::kUnknown;  // the statement's
    // Where the answers to its portal stand in the batch's: its Execute among the batch's
    // Executes (-1: none), its Describes among the batch's Describes. `runs_once`: the portal
    // is executed once at most, with no row limit, before it is bound again.
    int execute = -1;
    std::vector<int> describes{};
    bool runs_once = true;
  };
  // Execute messages (their places in the batch, counting from 0) with a row limit PostgreSQL
  // ignores: their portals' statements return no rows (PgJDBC's executeUpdate() sends a limit
  // of 1). without_ignored_row_limits() takes the limits away, as cutover adds columns of its
  // own to RETURNING, and the Binds count as executed whole (`runs_once`).
  std::vector<size_t> ignored_row_limits{};
  int execute_count = 0;   // Execute messages in the batch
  int describe_count = 0;  // Describe messages
  std::vector<Binding> pinnable{};
};

// `batch` with the Executes at `executes` (BatchPlan::ignored_row_limits) asking for every row.
std::string without_ignored_row_limits(std::string_view batch, const std::vector<size_t>& executes);

// The prepared statements of one client session, and where each one exists.
class PreparedStatements {
 public:
  using Classify = std::function<const Classification&(std::string_view sql)>;

  // `batch`: whole messages. Classifies each Parse's query with `classify`. With
  // `new_is_empty`, the prefix prepares every statement the batch uses (for a replay log).
  BatchPlan plan(std::string_view batch, const Classify& classify, bool new_is_empty = false) const;
  // Records what `batch` (planned as `plan`, with new's prefix where it went to new) did on
  // the databases it was sent to.
  void apply(std::string_view batch, const BatchPlan& plan, bool to_old, bool to_new);
  // `unit` (DEALLOCATE, DISCARD) ran: the statements it removed, or all named ones, are gone.
  void forget(const Classification& unit);
  // The client's transaction ended: its portals are gone (PostgreSQL closes them).
  void transaction_ended() { portals_.clear(); }
  // new's connection is fresh: it has no statement.
  void new_lost();
  // A simple Query ran on new (mirrored, or a routed read): like any Query it destroyed new's
  // unnamed statement.
  void new_lost_unnamed() { unnamed_.on_new = false; }
  // For a promotion, which makes new the connection every statement must be on: the Parse of
  // each statement old has and new lacks, whole; `ambiguous` counts those left out because
  // which text old kept is unknown. all_on_new() records that new took them.
  std::string missing_on_new(size_t& ambiguous) const;
  void all_on_new();
  // The two connections trade places: what was on old is on new, and back.
  void swap_sides();

  size_t size() const { return named_.size(); }

 private:
  struct Statement {
    std::string parse;  // the client's Parse message, whole
    Classification unit;
    bool on_old = false;
    bool on_new = false;
    // Parsed again with other text, without a Close: old kept one of the two (or neither),
    // which cutover cannot see, so this name never leaves old.
    bool ambiguous = false;
  };

  const Statement* find(std::string_view name) const;
  Statement* find(std::string_view name);
  void erase(std::string_view name);
  void store(std::string_view name, std::string_view parse, const Classification& unit, bool on_old,
             bool on_new);

  struct NameHash {  // lets find() look names up without copying them
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  std::unordered_map<std::string, Statement, NameHash, std::equal_to<>> named_;
  // Portals bound in earlier batches of the open transaction (a cursor fetched in chunks by
  // later Executes): what they run, and where. Bounded; past it, an Execute is unknown.
  struct Portal {
    Classification unit;
    bool on_old = false;
    bool on_new = false;
  };
  void bind_portal(std::string_view portal, std::string_view statement, bool on_old, bool on_new);
  std::unordered_map<std::string, Portal, NameHash, std::equal_to<>> portals_;
  Statement unnamed_;
  bool has_unnamed_ = false;
  size_t named_bytes_ = 0;  // bounded: statements past the bound are not known (they stay on old)
};

}  // namespace cutover::router
