#include "proxy/migration/proxy_context.h"

#include <algorithm>
#include <string>

#include "proxy/base/log.h"
#include "proxy/net/tls.h"

namespace cutover::proxy {
namespace {

router::PolicyConfig policy_config(const MigrationConfig& m) {
  router::PolicyConfig policy;
  policy.read_your_writes = m.read_your_writes;
  for (const auto& o : m.overrides) {
    (o.table.empty() ? policy.old_only_users : policy.old_only_tables)
        .push_back(o.table.empty() ? o.user : o.table);
  }
  return policy;
}

protocol::scram::Key random_key() {
  protocol::scram::Key key;
  std::string bytes = random_bytes(key.size());
  std::copy(bytes.begin(), bytes.end(), key.begin());
  return key;
}

// The comparator's report (on its thread); the mismatch log has the line with the digests.
void log_mismatch(const verify::WritePair& pair, verify::MismatchKind kind) {
  log::warn(pair.shadow_read ? "shadow_read_mismatch" : "mirror_mismatch",
            {{"conn", pair.connection_id},
             {"fingerprint", log::hex(pair.fingerprint)},
             {"kind", verify::kind_name(kind)},
             {"old", log::joined(pair.old_side.tags)},
             {"new", log::joined(pair.new_side.tags)},
             {"old_rows", pair.old_side.rows},
             {"new_rows", pair.new_side.rows}});
}

// What the ledger says of a mismatch: its kind and both sides' tags and row counts, and of
// rows changed differently, how (the keys go with the item).
std::string describe(const verify::WritePair& pair, verify::MismatchKind kind,
                     const std::vector<verify::RowDifference>& rows) {
  std::string text = std::string(verify::kind_name(kind)) + ": old " +
                     log::joined(pair.old_side.tags) + " (" + std::to_string(pair.old_side.rows) +
                     " rows), new " + log::joined(pair.new_side.tags) + " (" +
                     std::to_string(pair.new_side.rows) + " rows)";
  const verify::RowEffects& on_old = pair.old_side.effects;
  const verify::RowEffects& on_new = pair.new_side.effects;
  if (on_old == on_new) return text;
  text += "; rows changed: old " + std::to_string(on_old.rows()) + ", new " +
          std::to_string(on_new.rows());
  for (const verify::RowDifference& row : rows) {
    text += "; " + row.key + " " + std::string(verify::difference_name(row.kind));
    if (!row.columns.empty()) text += " in " + log::joined(row.columns);
  }
  return text;
}

// The ledger's keys of those rows: "t(id)=(7)".
std::vector<std::string> keys_of(const verify::WritePair& pair,
                                 const std::vector<verify::RowDifference>& rows) {
  std::vector<std::string> keys;
  keys.reserve(rows.size());
  for (const verify::RowDifference& row : rows) keys.push_back(pair.effect_table + row.key);
  return keys;
}

}  // namespace

ProxyContext::ProxyContext(const Config& c, std::shared_ptr<const Secrets> secrets)
    : config(c),
      control(make_control_store(c.control.store), c.migration.phase, c.migration.read_ramp),
      roles(roles_of(control.phase())),
      mirroring(roles.current().mirroring),
      live(c),
      trusted(c.auth.trust_addresses),
      classifier(c.migration.safe_functions),
      policy(policy_config(c.migration)),
      breaker({.error_rate = c.migration.fallback.error_rate,
               .cooldown = c.migration.fallback.cooldown,
               .fallbacks_per_second = c.migration.fallback.budget_per_second}),
      mock_key(random_key()),
      secrets_(std::move(secrets)) {
  if (mirroring) {
    divergences = std::make_unique<DivergenceLedger>(c.verify.divergence_log);
    journal = std::make_unique<MirrorJournal>(c, *divergences);
    journal->set_mirror(router::other(roles.current().serving));
    constexpr size_t kComparatorQueue = 100'000;
    comparator = std::make_unique<verify::Comparator>(
        c.verify.mismatch_log, kComparatorQueue,
        [this](const verify::WritePair& pair, verify::MismatchKind kind,
               const std::vector<verify::RowDifference>& rows) {
          metrics.mismatch(kind);
          log_mismatch(pair, kind);
          divergences->note({.kind = pair.shadow_read ? "shadow_read_mismatch" : "mismatch",
                             .keys = keys_of(pair, rows),
                             .fingerprint = pair.fingerprint,
                             .detail = describe(pair, kind, rows)},
                            pair.tables);
        });
    if (c.migration.mirror.sequence_sync.count() > 0) {
      sequences = std::make_unique<SequenceKeeper>(c, roles);
    }
  }
}

ProxyContext::~ProxyContext() = default;

std::shared_ptr<const Secrets> ProxyContext::secrets() const {
  std::lock_guard lock(mutex_);
  return secrets_;
}

void ProxyContext::replace_secrets(std::shared_ptr<const Secrets> secrets) {
  std::lock_guard lock(mutex_);
  secrets_ = std::move(secrets);
}

}  // namespace cutover::proxy
