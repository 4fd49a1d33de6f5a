// Functions of the user's (or an extension's) called in a write. random() and the other
// built-ins that give each server its own value are known by name (router/pinning.h); a
// function cutover does not know is looked up in old's catalog, and a volatile one makes the
// write unsafe in the same way: refused before old runs it, or with unsafe_writes: allow an
// open divergence. Without this, `INSERT INTO t SELECT my_random()` into a table without a key,
// or in a Query of several statements, left each server its own values and nothing reported.
#include "proxy/mirror/mirror_messages.h"
#include "proxy/mirror/pinner.h"
#include "router/pinning.h"

namespace cutover::proxy {
namespace {

// The volatile functions outside pg_catalog named as in `names`, one row each: schema, name.
std::string volatile_functions_query(const std::vector<std::string>& names) {
  std::string list;
  for (const std::string& name : names) {
    const size_t dot = name.find('.');
    list += (list.empty() ? "" : ", ") +
            router::quote_literal(dot == std::string::npos ? name : name.substr(dot + 1));
  }
  return "SELECT n.nspname, p.proname FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_namespace n "
         "ON n.oid = p.pronamespace WHERE p.provolatile = 'v' AND n.nspname <> 'pg_catalog' "
         "AND p.proname = ANY (ARRAY[" +
         list + "]::pg_catalog.name[])";
}

}  // namespace

asio::awaitable<void> Pinner::note_volatile_calls(std::string_view sql,
                                                  const router::Classification& unit) {
  const std::optional<router::NonDeterminism> found = router::find_nondeterminism(sql);
  if (!found || found->other_calls.empty()) co_return;
  const std::string volatile_ones = co_await volatile_calls(found->other_calls);
  if (!volatile_ones.empty()) note_unsafe(unit.fingerprint, volatile_ones);
}

// Of `names` (as called), those old has as volatile functions, as "f()" joined by commas. A name
// without a schema counts as volatile when a function of that name is in any schema but pg_catalog
// (which search_path picks is not known here): a false refusal names the function, and the hint
// says how to write the statement instead. Asked once per session, schema version and name; nothing
// is volatile when old does not answer (the comparator is then the net).
asio::awaitable<std::string> Pinner::volatile_calls(const std::vector<std::string>& names) {
  constexpr size_t kMaxFunctions = 1024;
  if (const uint64_t version = schema_version_.load();
      version != functions_version_ || volatile_functions_.size() >= kMaxFunctions) {
    volatile_functions_.clear();
    functions_version_ = version;
  }
  std::vector<std::string> unknown;
  for (const std::string& call : names) {
    if (!volatile_functions_.contains(call)) unknown.push_back(call);
  }
  if (!unknown.empty() && source_.transaction_status() != 'E') {
    const std::string query = volatile_functions_query(unknown);
    auto answer = co_await source_.query_own(query);
    if (answer && answer->sqlstate.empty()) {
      for (const std::string& call : unknown) volatile_functions_[call] = false;
      for (const std::string& body : answer->data_rows) {
        const std::optional<protocol::DataRow> row = decode_row(body);
        if (!row || row->columns.size() != 2 || !row->columns[0] || !row->columns[1]) continue;
        const std::string& name = *row->columns[1];
        volatile_functions_[name] = true;
        volatile_functions_[*row->columns[0] + "." + name] = true;
      }
    }
  }
  std::vector<std::string> volatile_ones;
  for (const std::string& call : names) {
    if (auto it = volatile_functions_.find(call); it != volatile_functions_.end() && it->second) {
      volatile_ones.push_back(call);
    }
  }
  co_return calls(volatile_ones);
}

}  // namespace cutover::proxy
