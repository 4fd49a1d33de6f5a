// Which of a session's UPDATEs and DELETEs are mirrored by their effect (router/row_effect.h):
// those whose rows follow from other data are run on old with their rows' keys returned to
// cutover, then on new on exactly those keys. The keys are the table's primary key (else a
// unique key of NOT NULL columns), read from the source of truth's catalog once per table and
// schema version; a statement shape named by key stays a statement. In a Query both sides
// return a witness of each row they changed (its key and the whole row), for the comparator
// (verify/row_effects.h). In the extended protocol the pinner prepares these texts as
// statements of cutover's own (pinner_effect.cpp).
// Not the running of the two texts (the mirror), nor other pinned values (pinner.h).
#pragma once

#include <atomic>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "proxy/mirror/source_of_truth.h"
#include "proxy/net/asio.h"
#include "router/classify.h"
#include "router/refusals.h"
#include "router/row_effect.h"

namespace cutover::proxy {

class EffectPlanner {
 public:
  EffectPlanner(SourceOfTruth& source, const std::atomic<uint64_t>& schema_version)
      : source_(source), schema_version_(schema_version) {}

  // A write mirrored by its effect: what old runs, and how new's text is made from its answer.
  // Or, `on_keys` false, a statement both sides run as for_old, returning witnesses.
  struct Plan {
    router::RowWrite write{};
    std::vector<std::string> key{};
    // Both sides return whole-row witnesses; else old returns the keys only (comparison off,
    // or a table whose rows RETURNING would not give as they are: row security, rules, not
    // readable by the client).
    bool witnessed = false;
    std::string for_old{};
    bool on_keys = true;
  };
  // How one unit is mirrored: as a statement (neither set), by its effect, or not at all.
  struct Decision {
    std::optional<Plan> plan{};
    std::optional<router::Refusal> refusal{};
    std::string unsafe{};  // allowed by unsafe_writes but neither: an open divergence
  };
  // `sql`: the whole Query as both sides would run it (pinned); `allow`: unsafe_writes allows
  // what cannot be mirrored; `witness`: both sides return witnesses of the rows they change.
  // Asks old for a table's key (the source idle or in a transaction).
  asio::awaitable<Decision> decide(std::string_view sql, const router::Classification& unit,
                                   bool allow, bool witness);
  // The same for a prepared statement's text (`sql`, pinned), whatever it is: a plan, or why
  // it can be mirrored neither way (empty: as a statement). `witness`: as for decide(), and
  // an INSERT gets a plan too.
  struct Verdict {
    std::optional<Plan> plan{};
    std::string problem{};
  };
  asio::awaitable<Verdict> judge_statement(std::string_view sql, uint64_t fingerprint,
                                           bool witness);
  // An UPDATE's or DELETE's without asking old: nullopt when its table's key is not known yet.
  std::optional<Verdict> judge_known(std::string_view sql, uint64_t fingerprint, bool witness);
  // New's text and the journal's once old ran plan.for_old (`data_rows` the DataRow bodies it
  // returned, taken out of the client's stream); nullopt when they are not the keys asked for.
  struct Texts {
    std::string for_new;
    std::string for_journal;  // without witnesses
  };
  std::optional<Texts> for_new(std::string_view sql, const Plan& plan,
                               const std::vector<std::string>& data_rows) const;
  // The keys in `count` of `data_rows` from `first` as one JSON array (a prepared statement's
  // parameter, router::on_key_parameter()), without the witnesses' rows; nullopt as for
  // for_new().
  static std::optional<std::string> keys_array(const std::vector<std::string>& data_rows,
                                               size_t first, size_t count);

  // What names mean may have changed (SET search_path, ...): forget what was learnt.
  void settings_changed() { forget(); }

 private:
  // `prepared`: the statement's parameters keep their types by its condition, which new's text
  // keeps (so a DELETE ... USING cannot be mirrored by its effect).
  // What old's catalog says of a table: its key columns (empty: none), and whether its rows
  // can be witnessed.
  struct Table {
    std::vector<std::string> key;
    bool witnessed = false;
  };
  // `witness` (a Query): a write named by key gets a plan too, as a witnessed statement.
  asio::awaitable<Verdict> judge(std::string_view sql, uint64_t fingerprint, bool prepared,
                                 bool witness = false);
  std::optional<router::RowWrite> row_write(std::string_view sql);
  std::optional<Verdict> witnessed_again(std::string_view sql, uint64_t fingerprint);
  asio::awaitable<std::optional<Plan>> witnessed_insert(std::string_view sql, uint64_t fingerprint);
  // A shape's verdict kept by fingerprint, at most kMaxShapes (then forgotten all at once).
  static constexpr size_t kMaxShapes = 4096;
  template <typename Cache, typename... Value>
  static void remember(Cache& cache, uint64_t fingerprint, const Value&... value) {
    if (cache.size() >= kMaxShapes) cache.clear();
    cache.emplace(fingerprint, value...);
  }
  Verdict verdict(std::string_view sql, uint64_t fingerprint, bool prepared, bool witness,
                  router::RowWrite write, const Table& table);
  // nullopt when old could not say (an unknown relation).
  asio::awaitable<std::optional<Table>> table_of(const std::string& relation);
  void forget_if_stale();  // DDL ran since the catalog was read
  void forget();

  SourceOfTruth& source_;
  const std::atomic<uint64_t>& schema_version_;
  uint64_t version_ = 0;
  std::unordered_map<std::string, Table> tables_;  // by quoted relation
  // Fingerprints of statements mirrored as they are, without witnesses: those naming rows by
  // key with comparison off, INSERTs into tables not witnessed.
  std::unordered_set<uint64_t> plain_;
  // Shapes of statements that name rows by key, or INSERTs, witnessed, by fingerprint.
  std::unordered_map<uint64_t, router::RowWrite> witnessed_;
};

}  // namespace cutover::proxy
