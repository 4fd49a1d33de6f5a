// What a unit of work is — read, write, DDL, transaction control, session state, or unknown —
// decided from PostgreSQL's own parser (libpg_query), never from patterns in the text; and a
// per-thread cache keyed by the text with its literals normalised away, so a statement that
// comes back with other constants costs a hash lookup, not a parse. Not the routing decision
// built on it (policy.h).
#pragma once

#include <cstdint>
#include <list>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

namespace cutover::router {

// Ordered by precedence: a unit of several statements takes the highest of their kinds.
enum class Kind : uint8_t {
  kRead,         // may run on either database
  kTransaction,  // BEGIN, COMMIT, SAVEPOINT, SET TRANSACTION, two-phase commands
  kSession,      // SET, PREPARE, LISTEN, cursors, temp tables, advisory locks, set_config()
  kUnknown,      // could not be parsed or depends on what this layer cannot see: treat as a write
  kWrite,  // changes data: DML, COPY FROM, locking reads, calls of functions not known read-only
  kDdl,    // changes the schema or permissions
};

std::string_view kind_name(Kind kind);

struct Classification {
  Kind kind = Kind::kUnknown;
  // Starts or sets a READ ONLY transaction (BEGIN/START TRANSACTION READ ONLY, SET TRANSACTION
  // READ ONLY): its reads may follow the ramp.
  bool read_only_transaction = false;
  // Creates a temporary table, view or sequence: its rows will exist on old only (writes go
  // there), so the session's later reads must not go to new.
  bool creates_temporary = false;
  // DEALLOCATE ALL or DISCARD: every prepared statement the session had may be gone.
  bool forgets_prepared = false;
  std::vector<std::string> deallocates{};  // DEALLOCATE name: these are gone
  // What mirroring needs to know (proxy/session/session_mirror.cpp): COPY ... FROM STDIN (data
  // follows from the client), a transaction statement among several, and a statement PostgreSQL
  // refuses inside a transaction block (VACUUM), which cutover must not wrap in one.
  bool copies_in = false;
  int copies_in_statements = 0;  // COPY ... FROM STDIN statements in the unit
  bool controls_transaction = false;
  // COMMIT or END: what may commit a transaction block (mirroring journals it first).
  bool commits = false;
  // PREPARE TRANSACTION, COMMIT PREPARED or ROLLBACK PREPARED (two-phase commit).
  bool two_phase = false;
  // Asks about the server the session is connected to (pg_backend_pid(), currval(), the
  // pg_stat_* and pg_locks views, version(), ...): only the source of truth's answer is the
  // client's, whatever the ramp.
  bool server_bound = false;
  bool refuses_transaction_block = false;
  // Calls a function that is not a read-only built-in: it may write (unless configured safe),
  // and be volatile (pinning.h's NonDeterminism::other_calls).
  bool calls_unknown_functions = false;
  // Calls something that gives each server its own value (now(), CURRENT_DATE, random(), ...;
  // see pinning.h, which finds where).
  bool nondeterministic = false;
  // Has an INSERT, whose target's column defaults may differ per server (insert_defaults.h).
  bool inserts = false;
  // Is an UPDATE or DELETE: its rows may follow from other data (router/row_effect.h).
  bool changes_rows = false;
  // Has an INSERT, UPDATE, DELETE or MERGE without RETURNING: it returns no rows, so PostgreSQL
  // ignores an Execute's row limit for it (a Parse holds one statement).
  bool writes_without_returning = false;
  // Tables the unit names, as written ("name" or "schema.name"), for per-table overrides.
  std::vector<std::string> tables{};
  std::string error{};  // the parser's message when kind is kUnknown because parsing failed
  // XXH3-64 of the text with literals normalised away: names the statement in logs without
  // its values.
  uint64_t fingerprint = 0;
};

// Whether `name` is one of PostgreSQL 15's pg_catalog functions that cannot write (the immutable
// and stable ones, plus a few volatile ones that only read).
bool builtin_read_only_function(std::string_view name);

// The fingerprint of a statement text (see Classification::fingerprint).
uint64_t fingerprint(std::string_view sql);

class Classifier {
 public:
  // `safe_functions`: user functions known not to write ("name" or "schema.name"), beyond
  // PostgreSQL's read-only built-ins.
  explicit Classifier(const std::vector<std::string>& safe_functions = {});

  // Parses `sql` (one simple-protocol Query: any number of statements). About 10-30 µs.
  Classification classify(std::string_view sql) const;

 private:
  struct Walk;
  std::unordered_set<std::string> safe_functions_;
};

// A bounded LRU cache in front of a Classifier. Not thread-safe: one per thread.
class ClassificationCache {
 public:
  ClassificationCache(const Classifier& classifier, size_t capacity);

  const Classification& classify(std::string_view sql);
  uint64_t hits() const { return hits_; }
  uint64_t misses() const { return misses_; }

 private:
  using Entry = std::pair<std::string, Classification>;
  const Classifier& classifier_;
  size_t capacity_;
  std::list<Entry> entries_;  // most recently used first
  std::unordered_map<std::string_view, std::list<Entry>::iterator> index_;
  uint64_t hits_ = 0;
  uint64_t misses_ = 0;
};

}  // namespace cutover::router
