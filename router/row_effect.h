// Writes mirrored by their effect. An UPDATE or DELETE that names its rows by key (`id = 5`,
// `id = $1`) changes the same rows on old and new: the row locks order it against every
// conflicting write. One whose rows follow from other data (`WHERE id = (SELECT max(id) ...)`,
// `WHERE status = 'new'`, no WHERE at all) may pick other rows on new, where the writes
// committed around it are not yet, or already, in place. So old runs it with the keys of the
// rows it changed returned to cutover (`RETURNING json_build_object(...)`, taken out of the
// client's stream), and new runs it on exactly those keys. This file finds such a statement in
// the parse tree and writes both texts; which columns are a table's key comes from the
// caller (old's catalog). Pure.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace cutover::router {

// The single UPDATE or DELETE of a statement text; or an INSERT, of which only the target's
// names, `returning` and `end` are known (find_insert()).
struct RowWrite {
  bool update = false;  // else DELETE
  bool insert = false;
  std::string relation{};   // as SQL names it, quoted: "public"."t" or "t"
  std::string table{};      // as written, unquoted: public.t or t (Classification::tables)
  bool only = false;        // ONLY: not the rows of tables inheriting from it
  std::string reference{};  // what its columns go by in the statement: the alias, or the table
  // Columns set equal to a constant or a parameter at the top of WHERE (ANDed): rows named
  // by value, whatever else is committed.
  std::vector<std::string> fixed_columns{};
  // Values or rows it takes from other rows than its own: UPDATE ... FROM, DELETE ... USING,
  // a subquery in SET, a WITH clause, a DELETE ... USING that returns rows. By keys alone new
  // could not compute the same values.
  bool reads_other_rows = false;
  bool uses_other_tables = false;          // FROM or USING
  std::vector<std::string> set_columns{};  // an UPDATE's: the columns it sets
  bool returning = false;                  // the client asked for RETURNING (it ends the statement)
  bool current_of = false;                 // WHERE CURRENT OF a cursor
  size_t where_begin = 0;                  // the WHERE keyword; `where_end` when there is none
  size_t where_end = 0;  // where the condition ends: RETURNING, or the statement's end
  size_t end = 0;        // the statement's end, before a closing semicolon
};

// The UPDATE or DELETE that `sql` holds as its only statement; nullopt for anything else, or
// when the text does not parse.
std::optional<RowWrite> find_row_write(std::string_view sql);

// The INSERT `sql` holds as its only statement, for its witnesses; nullopt for anything else.
std::optional<RowWrite> find_insert(std::string_view sql);

// Finds where `write`'s clauses are in `sql` again (where_begin, where_end, end): a statement of
// the same shape (router::fingerprint) as the one find_row_write() gave `write` for, with other
// values. By tokens, without parsing.
void locate_clauses(std::string_view sql, RowWrite& write);

// Whether `key` (a table's key columns) is named by value in the statement: it is mirrored as
// a statement then.
bool names_rows_by_key(const RowWrite& write, const std::vector<std::string>& key);

// The statement returning a witness of each row it changed as the last column, after what
// the client asked to be returned: one JSON object holding the row's key and, with
// `whole_row`, under the name "" (no column's) the whole row after the write
// (`{"id" : 7, "" : {"id":7,"v":"x"}}`, verify/row_effects.h); else the key alone. Old's
// text for a write by its effect (whose keys new then runs on), and both sides' to compare
// what a write did to each row.
std::string returning_effect(std::string_view sql, const RowWrite& write,
                             const std::vector<std::string>& key, bool whole_row);

// New's text: the statement with its condition replaced by the keys old returned (`keys`: a
// JSON array of objects holding the key columns, one per row), returning whole-row witnesses
// as returning_effect() does when `witnessed`.
std::string on_keys(std::string_view sql, const RowWrite& write,
                    const std::vector<std::string>& key, std::string_view keys,
                    bool witnessed = false);

// The same for a prepared statement, the keys coming as parameter $`parameter` (text holding
// the JSON array). The client's condition stays, made always true, so that its parameters keep
// their types; so a DELETE keeps its USING, and the caller must not use this for one that has
// it (the USING tables would have to hold rows on new). Returning witnesses when `witnessed`.
std::string on_key_parameter(std::string_view sql, const RowWrite& write,
                             const std::vector<std::string>& key, size_t parameter,
                             bool witnessed = false);

}  // namespace cutover::router
