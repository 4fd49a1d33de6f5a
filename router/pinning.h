// What a statement computes from when and where it runs, so that old and new, each running
// the same text, would store different values: found in PostgreSQL's parse tree (libpg_query).
// The time functions can be pinned (replaced by one literal that both sides then use); the
// rest (random(), gen_random_uuid(), clock_timestamp(), nextval(), ...) cannot be pinned from
// the text alone and is reported. Not the catalog side (defaults, serial and identity columns).
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "router/text_map.h"

namespace cutover::router {

// One call of a time function, where it stands in the text.
struct TimeCall {
  size_t begin = 0;
  size_t end = 0;
  // The SQL type its value has, with a precision when the call names one: "timestamptz",
  // "timestamptz(3)", "date", "timetz", "time", "timestamp".
  std::string type{};
  // now(), CURRENT_TIMESTAMP, ...: fixed for a transaction. statement_timestamp(): per statement.
  bool per_statement = false;
};

struct NonDeterminism {
  std::vector<TimeCall> time_calls{};     // in text order
  std::vector<std::string> unpinnable{};  // function names, e.g. "random", once each
  // Those of `unpinnable` called in a statement that stores rows (INSERT, UPDATE, DELETE,
  // MERGE, CREATE TABLE AS, SELECT INTO, a SELECT with a data-modifying WITH, CALL): its
  // effect would differ per server. A plain SELECT's calls (SELECT nextval('s')) store nothing.
  std::vector<std::string> unsafe{};
  // Functions cutover does not know (neither read-only built-ins nor those above) called in a
  // statement that stores rows, as written ("f", "app.f"), once each: only old's catalog says
  // whether one is volatile, which makes the statement unsafe as random() does.
  std::vector<std::string> other_calls{};
};

// Whether the name (unqualified or in pg_catalog) is one of the functions this file knows to
// give each server its own value. Cheap: what the classifier flags with.
bool nondeterministic_function(std::string_view name);

// Whether the name is a large-object function that may create one with an OID each server
// assigns itself (lo_creat, lo_create(0), lo_from_bytea(0, ...), lo_import): what the
// classifier flags for the pinner to look at.
bool large_object_function(std::string_view name);

// Parses `sql` and finds the non-deterministic calls of its data statements (INSERT, UPDATE,
// DELETE, MERGE, SELECT, CALL, CREATE TABLE AS); calls in definitions (DEFAULT now(), views,
// materialized views) are left alone. nullopt when it does not parse.
std::optional<NonDeterminism> find_nondeterminism(std::string_view sql);

// `sql` with each call replaced by a value of its type made from the instants given as SQL
// expressions whose text reads as a timestamptz: a quoted literal of timestamp_literal()'s
// ('2026-11-27 17:01:32.123456+00'), or a parameter ($3) of type text. `transaction` stands
// for now() and its kin, `statement` for statement_timestamp().
// Each replacement is noted in `rewrites`, when given (its current rewrite).
std::string pin_time(std::string_view sql, const std::vector<TimeCall>& calls,
                     std::string_view transaction, std::string_view statement,
                     TextMap* rewrites = nullptr);

// An instant as PostgreSQL timestamptz text in UTC, "2026-11-27 17:01:32.123456+00" (unquoted).
std::string timestamp_literal(int64_t unix_microseconds);

}  // namespace cutover::router
