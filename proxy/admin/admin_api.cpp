// The admin API's answers (admin_server.h): what each path reports and how each mutation is
// checked, recorded and applied. The HTTP transport is in admin_server.cpp.
#include <openssl/crypto.h>
#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

#include <boost/json.hpp>
#include <cmath>

#include "proxy/admin/admin_server.h"
#include "proxy/base/log.h"
#include "proxy/migration/proxy_context.h"
#include "verify/durable_file.h"

namespace cutover::proxy {
namespace {

namespace json = boost::json;

AdminResponse answer(unsigned status, const json::value& body) {
  return {.status = status, .body = json::serialize(body) + "\n"};
}

AdminResponse error(unsigned status, const std::string& message) {
  return answer(status, json::object{{"error", message}});
}

// Basis points as a JSON percentage: an integer when whole (Boost.JSON writes every double in
// exponent form, 5E1, which a reader should not have to decode).
json::value percent(uint32_t basis_points) {
  if (basis_points % 100 == 0) return basis_points / 100;
  return basis_points / 100.0;
}

// A percentage in 0..100 in steps of 0.01, as basis points; nullopt when it is not one.
std::optional<int64_t> basis_points(const json::value& v) {
  if (!v.is_number()) return std::nullopt;
  const double points = v.to_number<double>() * 100;
  if (std::abs(points - std::round(points)) > 1e-6) return std::nullopt;
  return std::llround(points);
}

// The request body as a JSON object; nullopt (and the 400 to send) when it is not one.
std::optional<json::object> body_object(const AdminRequest& request, AdminResponse& refusal) {
  boost::system::error_code ec;
  json::value value = json::parse(request.body, ec);
  if (ec || !value.is_object()) {
    refusal = error(400, "the body must be a JSON object");
    return std::nullopt;
  }
  return value.get_object();
}

}  // namespace

AdminResponse AdminServer::handle(const AdminRequest& request) {
  const std::string path = request.target.substr(0, request.target.find('?'));
  if (request.method == "GET") {
    if (path == "/status") return status();
    if (path == "/readiness") return readiness();
    if (path == "/divergences") return divergences();
    if (path == "/verify") return verification_report();
    if (path == "/metrics") return metrics();
    if (path == "/healthz") return answer(200, json::object{{"status", "ok"}});
    if (path == "/readyz") {
      return view_.draining() ? error(503, "draining: shutting down")
                              : answer(200, json::object{{"status", "ready"}});
    }
  } else if (request.method == "POST") {
    if (auto refused = refuse_unauthorized(request)) return *refused;
    if (path == "/ramp") return change_ramp(request);
    if (path == "/phase") return change_phase(request);
    if (path == "/verify") return start_verification();
  }
  return error(404, request.method + " " + path + " is not part of the admin API");
}

std::optional<AdminResponse> AdminServer::refuse_unauthorized(const AdminRequest& request) const {
  std::string expected;
  {
    std::lock_guard lock(token_mutex_);
    if (token_.empty()) return error(403, "mutations are disabled: admin.token_file is not set");
    expected = "Bearer " + token_;
  }
  // Compared in constant time: the answer must not tell how much of a guess was right.
  if (request.authorization.size() != expected.size() ||
      CRYPTO_memcmp(request.authorization.data(), expected.data(), expected.size()) != 0) {
    log::warn("admin_unauthorized", {{"remote", request.remote}, {"target", request.target}});
    return error(401, "a valid 'Authorization: Bearer <token>' header is needed");
  }
  return std::nullopt;
}

AdminResponse AdminServer::status() const {
  const ControlState::Snapshot state = control_.snapshot();
  const MirrorJournal* journal = context_.journal.get();
  const verify::Comparator* comparator = context_.comparator.get();
  return answer(
      200, json::object{
               {"phase", router::to_string(state.phase)},
               {"read_ramp_percent", percent(state.read_ramp)},
               {"version", state.version},
               // Where writes go now: during a role switch, still the former source of truth.
               {"source_of_truth", router::to_string(context_.roles.current().serving)},
               {"mirror", json::object{{"healthy", journal != nullptr && !journal->holds_records()},
                                       {"journal_records",
                                        journal != nullptr ? journal->records_behind() : 0}}},
               {"mismatches",
                json::object{{"total", comparator != nullptr ? comparator->mismatches() : 0}}},
               {"divergences", divergence_summary()},
               {"clients", view_.clients()},
               {"build", json::object{{"version", CUTOVER_VERSION}}}});
}

router::PromotionFacts AdminServer::promotion_facts() const {
  const MirrorJournal* journal = context_.journal.get();
  const Counts window = counts_in_window();
  const SequenceKeeper* sequences = context_.sequences.get();
  return {
      .read_ramp = control_.read_ramp(),
      .mirror_healthy = journal != nullptr && !journal->holds_records(),
      .journal_records = journal != nullptr ? journal->records_behind() : 0,
      .mismatches_in_window = window.mismatches,
      .fallbacks_in_window = window.fallbacks,
      .window_seconds = static_cast<uint64_t>(config_.control.promotion_window.count()),
      .open_divergences = context_.divergences != nullptr ? context_.divergences->open_count() : 0,
      .sequences_kept = sequences != nullptr,
      .sequence_headroom = sequences != nullptr ? sequences->headroom() : std::nullopt};
}

json::object AdminServer::divergence_summary() const {
  json::array tables;
  const DivergenceLedger* ledger = context_.divergences.get();
  if (ledger != nullptr) {
    for (const std::string& table : ledger->tables()) tables.emplace_back(table);
  }
  return {{"open", ledger != nullptr ? ledger->open_count() : 0}, {"tables", std::move(tables)}};
}

AdminResponse AdminServer::verification_report() const {
  if (!view_.verification_report) return error(409, "verification runs only while cutover mirrors");
  std::string report = view_.verification_report();
  if (report.empty()) return error(404, "no verification pass yet: POST /verify starts one");
  return {.body = std::move(report)};
}

AdminResponse AdminServer::start_verification() {
  if (!view_.start_verification) return error(409, "verification runs only while cutover mirrors");
  const std::optional<uint64_t> pass = view_.start_verification();
  if (!pass) return error(409, "a verification pass is running: GET /verify shows it");
  log::info("verification_requested", {{"pass", *pass}});
  return answer(202, json::object{{"pass", *pass}});
}

AdminResponse AdminServer::divergences() const {
  json::array items;
  if (const DivergenceLedger* ledger = context_.divergences.get()) {
    for (const Divergence& d : ledger->open_items()) {
      json::array keys;
      for (const std::string& key : d.keys) keys.emplace_back(key);
      items.push_back(json::object{{"id", d.id},
                                   {"kind", d.kind},
                                   {"table", d.table},
                                   {"keys", std::move(keys)},
                                   {"since", d.since_unix_ms},
                                   {"fingerprint", log::hex(d.fingerprint)},
                                   {"occurrences", d.occurrences},
                                   {"detail", d.detail}});
    }
  }
  return answer(200, json::object{{"divergences", std::move(items)}});
}

AdminResponse AdminServer::readiness() const {
  json::array gates;
  bool ready = true;
  for (const router::Gate& gate : router::promotion_gates(promotion_facts())) {
    ready = ready && gate.pass;
    gates.push_back(json::object{{"name", gate.name},
                                 {"value", gate.value},
                                 {"threshold", gate.threshold},
                                 {"pass", gate.pass}});
  }
  return answer(200, json::object{{"ready", ready}, {"gates", std::move(gates)}});
}

AdminResponse AdminServer::metrics() const {
  prometheus::Registry registry;
  const ControlState::Snapshot state = control_.snapshot();
  auto& phase = prometheus::BuildGauge()
                    .Name("cutover_phase")
                    .Help("1 for the migration's current phase, 0 for the others")
                    .Register(registry);
  for (auto p : {router::Phase::kPassthrough, router::Phase::kDualWrite, router::Phase::kPromoted,
                 router::Phase::kRolledBack, router::Phase::kDecommissioned}) {
    phase.Add({{"phase", std::string(router::to_string(p))}}).Set(p == state.phase ? 1 : 0);
  }
  auto gauge = [&](const std::string& name, const std::string& help, double value) {
    prometheus::BuildGauge().Name(name).Help(help).Register(registry).Add({}).Set(value);
  };
  gauge("cutover_read_ramp_ratio", "Share of eligible reads routed to new (0..1)",
        state.read_ramp / 10000.0);
  gauge("cutover_state_version", "Version of the migration state",
        static_cast<double>(state.version));
  gauge("cutover_client_connections", "Client connections being served",
        static_cast<double>(view_.clients()));
  const MirrorJournal* journal = context_.journal.get();
  gauge("cutover_journal_records", "Mirror-failure journal records not yet replayed",
        journal != nullptr ? static_cast<double>(journal->records_behind()) : 0);
  gauge("cutover_divergences_open",
        "Differences between old and new found and not yet closed by verification or repair",
        context_.divergences != nullptr ? static_cast<double>(context_.divergences->open_count())
                                        : 0);
  gauge("cutover_journal_bytes", "Bytes of the mirror-failure journal on disk",
        journal != nullptr ? static_cast<double>(journal->bytes_on_disk()) : 0);
  gauge("cutover_mirror_lag_seconds",
        "How long the mirror has been missing writes (journaled, not yet replayed); 0 while live",
        journal != nullptr ? journal->lag_seconds() : 0);
  const RoleSet roles = context_.roles.current();
  auto& serving = prometheus::BuildGauge()
                      .Name("cutover_serving")
                      .Help("1 for the database sessions serve from now (the source of truth)")
                      .Register(registry);
  for (auto db : {router::Backend::kOld, router::Backend::kNew}) {
    serving.Add({{"database", std::string(router::to_string(db))}})
        .Set(db == roles.serving ? 1 : 0);
  }
  gauge("cutover_role_switch_holding", "1 while a role switch holds sessions at their boundary",
        context_.roles.holding() ? 1 : 0);
  if (const SequenceKeeper* sequences = context_.sequences.get()) {
    if (auto headroom = sequences->headroom();
        headroom && *headroom != router::PromotionFacts::kNoSequences) {
      gauge("cutover_sequence_headroom",
            "Smallest lead of a mirror sequence over the source of truth's after the last pass",
            static_cast<double>(*headroom));
    }
  }
  gauge("cutover_circuit_breaker_open", "1 while the circuit breaker keeps reads off new",
        context_.breaker.state(std::chrono::steady_clock::now()) == router::BreakerState::kClosed
            ? 0
            : 1);
  if (const verify::Comparator* comparator = context_.comparator.get()) {
    // Totals the comparator keeps, exposed as counters of a registry built afresh per scrape.
    auto counter = [&](const std::string& name, const std::string& help, uint64_t value) {
      prometheus::BuildCounter().Name(name).Help(help).Register(registry).Add({}).Increment(
          static_cast<double>(value));
    };
    counter("cutover_comparator_pairs_total", "Mirrored write pairs compared", comparator->pairs());
    counter("cutover_comparator_dropped_total", "Pairs not compared: the queue was full",
            comparator->dropped());
  }
  // What sessions count as it happens (proxy/base/metrics.h), then these.
  std::vector<prometheus::MetricFamily> families = context_.metrics.registry().Collect();
  for (auto& family : registry.Collect()) families.push_back(std::move(family));
  return {.content_type = "text/plain; version=0.0.4",
          .body = prometheus::TextSerializer().Serialize(families)};
}

AdminResponse AdminServer::change_ramp(const AdminRequest& request) {
  AdminResponse refusal;
  auto body = body_object(request, refusal);
  if (!body) return refusal;
  const ControlState::Snapshot state = control_.snapshot();
  if (state.phase != router::Phase::kDualWrite) {
    return error(409, "the read ramp changes only in dual_write (the phase is " +
                          std::string(router::to_string(state.phase)) + ")");
  }
  const json::value* absolute = body->if_contains("percent");
  const json::value* step = body->if_contains("step");
  if ((absolute == nullptr) == (step == nullptr) || body->size() != 1) {
    return error(400, "expected {\"percent\": P} or {\"step\": S}");
  }
  const auto points = basis_points(absolute != nullptr ? *absolute : *step);
  if (!points) return error(400, "a percentage in steps of 0.01 is expected");
  const int64_t ramp = absolute != nullptr ? *points : state.read_ramp + *points;
  if (ramp < 0 || ramp > 10000) return error(400, "the read ramp must stay within 0..100");
  return apply(request, "ramp", state.phase, static_cast<uint32_t>(ramp), state.version, false);
}

AdminResponse AdminServer::change_phase(const AdminRequest& request) {
  AdminResponse refusal;
  auto body = body_object(request, refusal);
  if (!body) return refusal;
  const json::value* action_name = body->if_contains("action");
  const json::value* force = body->if_contains("force");
  if (action_name == nullptr || !action_name->is_string() ||
      (force != nullptr && !force->is_bool())) {
    return error(400, "expected {\"action\": \"promote\"|\"rollback\"|..., \"force\": false}");
  }
  const auto action = router::parse_action(std::string_view(action_name->get_string()));
  if (!action) return error(400, "unknown action '" + std::string(action_name->get_string()) + "'");
  const ControlState::Snapshot state = control_.snapshot();
  const bool forced = force != nullptr && force->get_bool();
  const router::Transition transition =
      router::next_phase(state.phase, *action, promotion_facts(), forced);
  if (!transition.to) return error(409, transition.refused);
  // The rules allow it; a process that started without a mirror holds no connections to new.
  if (*action == router::Action::kDualWrite) {
    return error(409,
                 "dual_write needs a restart: this process started in passthrough and holds "
                 "no connections to new");
  }
  AdminResponse changed = apply(request, std::string(router::to_string(*action)), *transition.to,
                                state.read_ramp, state.version, transition.forced);
  // A change of roles is carried out by the role switch (role_switch.cpp): answer once it
  // is, so `cutover ctl promote` returns with this instance serving from new.
  const RoleSet wanted = roles_of(*transition.to);
  if (changed.status == 200 && context_.mirroring && context_.roles.current() != wanted) {
    context_.roles.wait_for(wanted, context_.live.switch_timeout() + std::chrono::seconds(2));
    changed = status();
  }
  return changed;
}

// Records the change in the state file and the audit log, then answers with the new status.
AdminResponse AdminServer::apply(const AdminRequest& request, const std::string& what,
                                 router::Phase phase, uint32_t ramp, uint64_t version,
                                 bool forced) {
  const ControlState::Snapshot before = control_.snapshot();
  if (auto failed = control_.update(phase, ramp, version)) {
    log::error("control_change_failed", {{"change", what}, {"error", *failed}});
    return error(500, "nothing changed: " + *failed);
  }
  const ControlState::Snapshot after = control_.snapshot();
  json::object entry{{"time_unix_ms", after.changed_unix_ms},
                     {"operator", request.operator_name},
                     {"remote", request.remote},
                     {"change", what},
                     {"forced", forced},
                     {"old", json::object{{"phase", router::to_string(before.phase)},
                                          {"read_ramp_percent", percent(before.read_ramp)},
                                          {"version", before.version}}},
                     {"new", json::object{{"phase", router::to_string(after.phase)},
                                          {"read_ramp_percent", percent(after.read_ramp)},
                                          {"version", after.version}}}};
  std::string audit_error;
  try {
    verify::append_durable_line(config_.admin.audit_log, json::serialize(entry), 0600);
  } catch (const std::system_error& e) {
    audit_error = e.what();
  }
  const bool audited = audit_error.empty();
  log::write(audited ? log::Level::kInfo : log::Level::kError,
             audited ? "control_changed" : "control_changed_unaudited",
             {{"change", what},
              {"audit_error", audit_error},
              {"phase", router::to_string(after.phase)},
              {"read_ramp_percent", after.read_ramp / 100.0},
              {"version", after.version},
              {"forced", forced},
              {"remote", request.remote}});
  return status();
}

}  // namespace cutover::proxy
