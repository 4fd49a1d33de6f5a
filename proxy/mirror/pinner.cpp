// The pinner's common part and the simple protocol's time functions (defaults:
// pinner_defaults.cpp; the extended protocol: pinner_extended.cpp).
#include "proxy/mirror/pinner.h"

#include "proxy/base/log.h"
#include "router/pinning.h"

namespace cutover::proxy {

// "random(), nextval()": the functions named as a client would write them.
std::string Pinner::calls(const std::vector<std::string>& names) {
  std::string out;
  for (const std::string& name : names) out += (out.empty() ? "" : ", ") + name + "()";
  return out;
}

void Pinner::start_unit() {
  if (source_.transaction_status() == 'I') transaction_time_.clear();
  unpinned_ = false;
  unsafe_.clear();
  data_dependent_.clear();
  rewrites_.clear();
}

// cutover's clock as the instants now() (fixed for the transaction) and statement_timestamp()
// stand for.
std::pair<std::string, std::string> Pinner::instants() {
  const auto now = std::chrono::duration_cast<std::chrono::microseconds>(
      std::chrono::system_clock::now().time_since_epoch());
  std::string statement_time = router::timestamp_literal(now.count());
  if (transaction_time_.empty()) transaction_time_ = statement_time;
  return {transaction_time_, std::move(statement_time)};
}

void Pinner::note_unpinned(uint64_t fingerprint, const std::string& what) {
  unpinned_ = true;
  report_unpinned(fingerprint, what);
}

void Pinner::note_unsafe(uint64_t fingerprint, const std::string& what) {
  unsafe_ += (unsafe_.empty() ? "" : ", ") + what;
  note_unpinned(fingerprint, what);
}

// Logged once per session and fingerprint: a prepared statement runs thousands of times a
// second, and the comparator still marks each pair.
void Pinner::report_unpinned(uint64_t fingerprint, const std::string& what) {
  constexpr size_t kMaxRemembered = 1024;  // past it, nothing more is logged for the session
  if (unpinned_reported_.size() >= kMaxRemembered) return;
  if (!unpinned_reported_.insert(fingerprint).second) return;
  log::warn("mirror_nondeterministic",
            {{"conn", conn_id_}, {"fingerprint", log::hex(fingerprint)}, {"calls", what}});
}

// A Query's text with its time functions replaced by cutover's clock, one instant per
// transaction (statement_timestamp(): per statement), so old and new store the same values.
std::string Pinner::pin_text(std::string_view sql, const router::Classification& unit) {
  auto found = router::find_nondeterminism(sql);
  if (!found) {
    note_unpinned(unit.fingerprint, "unparsed");  // old will say what is wrong with it
  } else if (!found->unsafe.empty()) {
    note_unsafe(unit.fingerprint, calls(found->unsafe));
  } else if (!found->unpinnable.empty()) {
    note_unpinned(unit.fingerprint, calls(found->unpinnable));
  }
  if (!found || found->time_calls.empty()) return {};
  auto [transaction, statement] = instants();
  rewrites_.begin_rewrite();
  return router::pin_time(sql, found->time_calls, router::quote_literal(transaction),
                          router::quote_literal(statement), &rewrites_);
}

void Pinner::settings_changed() {
  forget_tables();
  forget_statements();
  effects_.settings_changed();
}

void Pinner::statements_lost(bool on_both) {
  for (auto& [parse, pin] : statements_) {
    pin.on_new = false;
    if (on_both) pin.on_old = false;
  }
  to_close_on_new_.clear();
  if (on_both) to_close_on_old_.clear();
}

// A write by its effect has a text of its own on each side, under one name: cutover's
// statements are closed and prepared again as they come (role switches are rare). Tables and
// keys are read from the other catalog from now on.
void Pinner::swap_sides() {
  forget_statements();
  std::swap(to_close_on_old_, to_close_on_new_);
  forget_tables();
  effects_.settings_changed();
}

// Forgets cutover's statements (DDL may have changed what they must pin, or there are too
// many); those the servers have are closed there before the next pinned batch.
void Pinner::forget_statements() {
  for (const auto& [parse, pin] : statements_) {
    if (pin.on_old) to_close_on_old_.push_back(pin.name);
    if (pin.on_new) to_close_on_new_.push_back(pin.name);
  }
  statements_.clear();
  streamed_.clear();  // their names are in the lists above
}

}  // namespace cutover::proxy
