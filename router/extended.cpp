#include "router/extended.h"

#include <algorithm>
#include <limits>
#include <utility>

#include "protocol/framing.h"
#include "protocol/frontend.h"

namespace cutover::router {
namespace {

// Named statements a session may have cutover remember; more than drivers' statement caches
// hold (psycopg 100, JDBC 256 by default). Statements past it stay on old.
constexpr size_t kMaxNamedBytes = size_t{1} << 20;

// The names an extended-query message carries, read in place: decode_frontend() would copy
// every Bind parameter, and routing needs only the names.
struct Names {
  char kind = '\0';         // Describe / Close: 'S' statement or 'P' portal
  std::string_view first;   // Parse: statement; Bind, Execute: portal; Describe, Close: name
  std::string_view second;  // Parse: query; Bind: statement
};

std::string_view cstring(std::string_view& body) {
  size_t end = body.find('\0');
  if (end == std::string_view::npos) end = body.size();
  std::string_view s = body.substr(0, end);
  body.remove_prefix(std::min(end + 1, body.size()));
  return s;
}

Names names(char type, std::string_view body) {
  Names n;
  if ((type == 'D' || type == 'C') && !body.empty()) {
    n.kind = body[0];
    body.remove_prefix(1);
  }
  n.first = cstring(body);
  if (type == 'P' || type == 'B') n.second = cstring(body);
  return n;
}

// Calls visit(type, body, whole) for each message of `batch` (already framed by the caller).
template <typename Visit>
void for_each_message(std::string_view batch, Visit&& visit) {
  for (;;) {
    auto frame = protocol::next_frame(batch, std::numeric_limits<size_t>::max());
    if (frame.status != protocol::FrameStatus::kFrame) return;
    visit(frame.type, frame.body, batch.substr(0, frame.consumed));
    batch.remove_prefix(frame.consumed);
  }
}

// What a portal or statement of unknown origin runs: anything.
const Classification& unknown() {
  static const Classification unit{.kind = Kind::kUnknown};
  return unit;
}

}  // namespace

void merge(Classification& into, const Classification& unit) {
  into.kind = std::max(into.kind, unit.kind);
  into.read_only_transaction |= unit.read_only_transaction;
  into.creates_temporary |= unit.creates_temporary;
  into.forgets_prepared |= unit.forgets_prepared;
  into.copies_in |= unit.copies_in;
  into.controls_transaction |= unit.controls_transaction;
  into.commits |= unit.commits;
  into.refuses_transaction_block |= unit.refuses_transaction_block;
  into.nondeterministic |= unit.nondeterministic;
  into.inserts |= unit.inserts;
  into.changes_rows |= unit.changes_rows;
  into.two_phase |= unit.two_phase;
  into.server_bound |= unit.server_bound;
  into.copies_in_statements += unit.copies_in_statements;
  into.deallocates.insert(into.deallocates.end(), unit.deallocates.begin(), unit.deallocates.end());
  into.tables.insert(into.tables.end(), unit.tables.begin(), unit.tables.end());
  if (into.fingerprint == 0) into.fingerprint = unit.fingerprint;
}

std::string without_ignored_row_limits(std::string_view batch,
                                       const std::vector<size_t>& executes) {
  std::string out;
  out.reserve(batch.size());
  size_t message = 0;
  for_each_message(batch, [&](char, std::string_view, std::string_view whole) {
    out.append(whole);
    if (std::find(executes.begin(), executes.end(), message++) != executes.end()) {
      out.replace(out.size() - 4, 4, 4, '\0');  // an Execute ends with its row limit
    }
  });
  return out;
}

BatchPlan PreparedStatements::plan(std::string_view batch, const Classify& classify,
                                   bool new_is_empty) const {
  BatchPlan plan;
  // What a statement or portal runs: its classification and its text.
  struct Runs {
    const Classification* unit;
    std::string_view parse;  // the whole Parse message; empty when unknown
  };
  // Statements parsed and portals bound earlier in this batch, latest last.
  std::vector<std::pair<std::string_view, Runs>> parsed_here;
  std::vector<std::pair<std::string_view, Runs>> portals;
  // Reserved whole, so the pointers above into `parsed` stay valid.
  size_t parses = 0;
  for_each_message(batch,
                   [&](char type, std::string_view, std::string_view) { parses += type == 'P'; });
  plan.parsed.reserve(parses);
  auto latest = [](const auto& list, std::string_view name) -> const Runs* {
    auto it = std::find_if(list.rbegin(), list.rend(), [&](auto& e) { return e.first == name; });
    return it == list.rend() ? nullptr : &it->second;
  };
  // The statement `name` as this batch sees it; on the way, what each side must be given.
  auto statement = [&](std::string_view name) -> Runs {
    if (const Runs* here = latest(parsed_here, name)) return *here;
    const Statement* known = find(name);
    if (known == nullptr || known->ambiguous) {
      plan.movable = false;
      plan.new_can_run = false;
      return {&unknown(), {}};
    }
    if ((new_is_empty || !known->on_new) &&
        std::find(plan.prepared_on_new.begin(), plan.prepared_on_new.end(), name) ==
            plan.prepared_on_new.end()) {
      plan.prepared_on_new.emplace_back(name);
      if (!name.empty()) {
        protocol::encode(protocol::Close{.kind = 'S', .name = std::string(name)}, plan.new_prefix);
        ++plan.new_prefix_replies;
      }
      plan.new_prefix += known->parse;
      ++plan.new_prefix_replies;
    }
    if (name.empty() && !known->on_old) plan.old_prefix = known->parse;
    return {&known->unit, known->parse};
  };
  // Portals bound in this batch, latest last, with their Binding in plan.pinnable (npos: none).
  std::vector<std::pair<std::string_view, size_t>> bindings;
  auto binding_of = [&](std::string_view portal) -> BatchPlan::Binding* {
    auto it = std::find_if(bindings.rbegin(), bindings.rend(),
                           [&](auto& b) { return b.first == portal; });
    if (it == bindings.rend() || it->second == std::string_view::npos) return nullptr;
    return &plan.pinnable[it->second];
  };
  int executes = 0;   // Execute messages so far
  int describes = 0;  // Describe messages so far
  size_t message = 0;
  for_each_message(batch, [&](char type, std::string_view body, std::string_view whole) {
    Names n = names(type, body);
    switch (type) {
      case 'P':
        plan.parsed.push_back(classify(n.second));
        if (!n.first.empty()) plan.movable = false;
        parsed_here.emplace_back(n.first, Runs{&plan.parsed.back(), whole});
        break;
      case 'B': {
        const Runs& bound = portals.emplace_back(n.first, statement(n.second)).second;
        size_t pinnable = std::string_view::npos;
        if (bound.unit->nondeterministic || bound.unit->inserts || bound.unit->changes_rows) {
          pinnable = plan.pinnable.size();
          plan.pinnable.push_back(
              {message, std::string(bound.parse), bound.unit->fingerprint, bound.unit->kind});
        }
        bindings.emplace_back(n.first, pinnable);
        break;
      }
      case 'E': {
        const Runs* portal = latest(portals, n.first);
        const auto earlier = portal == nullptr ? portals_.find(n.first) : portals_.end();
        const bool known = earlier != portals_.end();
        if (portal == nullptr) {  // bound by an earlier batch: it runs where it was bound
          plan.movable = false;
          plan.new_can_run = known && earlier->second.on_new;
        }
        const Classification& runs = portal != nullptr ? *portal->unit
                                     : known           ? earlier->second.unit
                                                       : unknown();
        merge(plan.unit, runs);
        plan.executes = true;
        // The portal's name, its NUL, the row limit: anything else is malformed (old says so).
        const bool well_formed = body.size() == n.first.size() + 5;
        bool unlimited = well_formed && body.ends_with(std::string_view("\0\0\0\0", 4));
        if (well_formed && !unlimited && runs.writes_without_returning) {
          plan.ignored_row_limits.push_back(message);
          unlimited = true;
        }
        if (BatchPlan::Binding* bound = binding_of(n.first)) {
          if (bound->execute < 0 && unlimited) {
            bound->execute = executes;
          } else {
            bound->runs_once = false;
          }
        }
        ++executes;
        break;
      }
      case 'D':
        if (n.kind == 'P') {
          if (BatchPlan::Binding* bound = binding_of(n.first))
            bound->describes.push_back(describes);
        }
        ++describes;
        if (n.kind == 'S') statement(n.first);
        if (n.kind == 'P' && latest(portals, n.first) == nullptr) {
          plan.movable = plan.new_can_run = false;
        }
        break;
      case 'C':
        if (n.kind == 'S') plan.movable = false;
        break;
      case 'S':
        break;
      case 'H':  // Flush: answers sooner, changes nothing (the batch went to old in pieces)
        plan.movable = false;
        break;
      default:
        plan.movable = plan.new_can_run = false;
        break;
    }
    ++message;
  });
  plan.execute_count = executes;
  plan.describe_count = describes;
  return plan;
}

void PreparedStatements::apply(std::string_view batch, const BatchPlan& plan, bool to_old,
                               bool to_new) {
  if (to_new) {
    for (const auto& name : plan.prepared_on_new) {
      if (Statement* s = find(name)) s->on_new = true;
    }
  }
  if (to_old && !plan.old_prefix.empty()) unnamed_.on_old = true;
  auto parsed = plan.parsed.begin();
  for_each_message(batch, [&](char type, std::string_view body, std::string_view whole) {
    Names n = names(type, body);
    if (type == 'P' && parsed != plan.parsed.end()) {
      store(n.first, whole, *parsed++, to_old, to_new);
    } else if (type == 'B') {
      bind_portal(n.first, n.second, to_old, to_new);
    } else if (type == 'C' && n.kind == 'S' && !n.first.empty()) {
      erase(n.first);
    } else if (type == 'C' && n.kind == 'P') {
      portals_.erase(std::string(n.first));
    }
  });
}

void PreparedStatements::bind_portal(std::string_view portal, std::string_view statement,
                                     bool on_old, bool on_new) {
  constexpr size_t kMaxPortals = 1000;
  const Statement* bound = find(statement);
  if (bound == nullptr || bound->ambiguous) {
    portals_.erase(std::string(portal));  // a portal of unknown statement: unknown
    return;
  }
  if (portals_.size() >= kMaxPortals && !portals_.contains(portal)) return;
  portals_[std::string(portal)] = Portal{.unit = bound->unit, .on_old = on_old, .on_new = on_new};
}

void PreparedStatements::store(std::string_view name, std::string_view parse,
                               const Classification& unit, bool on_old, bool on_new) {
  Statement fresh{.parse = std::string(parse), .unit = unit, .on_old = on_old, .on_new = on_new};
  if (name.empty()) {
    unnamed_ = std::move(fresh);
    has_unnamed_ = true;
    return;
  }
  if (Statement* known = find(name)) {
    // PostgreSQL refuses a second Parse of a name (42P05) unless the first one failed.
    if (known->parse != parse) known->ambiguous = true;
    return;
  }
  if (named_bytes_ + parse.size() > kMaxNamedBytes) return;
  named_bytes_ += parse.size();
  named_.emplace(std::string(name), std::move(fresh));
}

const PreparedStatements::Statement* PreparedStatements::find(std::string_view name) const {
  if (name.empty()) return has_unnamed_ ? &unnamed_ : nullptr;
  auto it = named_.find(name);
  return it == named_.end() ? nullptr : &it->second;
}

PreparedStatements::Statement* PreparedStatements::find(std::string_view name) {
  return const_cast<Statement*>(std::as_const(*this).find(name));
}

void PreparedStatements::forget(const Classification& unit) {
  if (unit.forgets_prepared) {
    named_.clear();
    named_bytes_ = 0;
    return;
  }
  for (const auto& name : unit.deallocates) erase(name);
}

void PreparedStatements::erase(std::string_view name) {
  if (auto it = named_.find(name); it != named_.end()) {
    named_bytes_ -= it->second.parse.size();
    named_.erase(it);
  }
}

void PreparedStatements::new_lost() {
  for (auto& [name, statement] : named_) statement.on_new = false;
  unnamed_.on_new = false;
}

std::string PreparedStatements::missing_on_new(size_t& ambiguous) const {
  std::string parses;
  ambiguous = 0;
  auto add = [&](const Statement& s) {
    if (s.ambiguous) ++ambiguous;
    if (s.on_old && !s.on_new && !s.ambiguous) parses += s.parse;
  };
  for (const auto& [name, statement] : named_) add(statement);
  if (has_unnamed_) add(unnamed_);
  return parses;
}

void PreparedStatements::all_on_new() {
  auto mark = [](Statement& s) { s.on_new = s.on_new || (s.on_old && !s.ambiguous); };
  for (auto& [name, statement] : named_) mark(statement);
  mark(unnamed_);
}

void PreparedStatements::swap_sides() {
  for (auto& [name, statement] : named_) std::swap(statement.on_old, statement.on_new);
  std::swap(unnamed_.on_old, unnamed_.on_new);
}

}  // namespace cutover::router
