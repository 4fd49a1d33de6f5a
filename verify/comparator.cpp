#include "verify/comparator.h"

#include <cerrno>
#include <chrono>
#include <cinttypes>
#include <system_error>

namespace cutover::verify {
namespace {

// How often the worker looks for queued pairs when nobody woke it (see submit()).
constexpr auto kPollInterval = std::chrono::milliseconds(10);

// A JSON string; tags come from the servers, but nothing is trusted to be plain.
std::string json_string(std::string_view text) {
  std::string out = "\"";
  for (char c : text) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      char escape[8];
      std::snprintf(escape, sizeof escape, "\\u%04x", static_cast<unsigned>(c));
      out += escape;
    } else {
      out += c;
    }
  }
  return out + "\"";
}

std::string side_json(const WriteAnswer& side) {
  std::string out = "{\"tags\":[";
  for (size_t i = 0; i < side.tags.size(); ++i)
    out += (i > 0 ? "," : "") + json_string(side.tags[i]);
  return out + "],\"rows\":" + std::to_string(side.rows) + ",\"rows_hash\":\"" +
         to_hex(side.rows_digest) + "\"}";
}

// The rows whose effects differ, when they do: `,"effects":{...}` (empty otherwise).
// "complete" is false when a side changed more rows than are kept to be named.
std::string effects_json(const WritePair& pair, const std::vector<RowDifference>& rows) {
  const RowEffects& on_old = pair.old_side.effects;
  const RowEffects& on_new = pair.new_side.effects;
  if (on_old == on_new) return "";
  std::string out = ",\"effects\":{\"table\":" + json_string(pair.effect_table) +
                    ",\"old_rows\":" + std::to_string(on_old.rows()) +
                    ",\"new_rows\":" + std::to_string(on_new.rows()) +
                    ",\"complete\":" + (on_old.complete() && on_new.complete() ? "true" : "false") +
                    ",\"rows\":[";
  for (size_t i = 0; i < rows.size(); ++i) {
    out += (i > 0 ? ",{\"key\":" : "{\"key\":") + json_string(rows[i].key) + ",\"kind\":\"" +
           std::string(difference_name(rows[i].kind)) + "\",\"columns\":[";
    for (size_t c = 0; c < rows[i].columns.size(); ++c)
      out += (c > 0 ? "," : "") + json_string(rows[i].columns[c]);
    out += "]}";
  }
  return out + "]}";
}

}  // namespace

std::string_view kind_name(MismatchKind kind) {
  switch (kind) {
    case MismatchKind::kTags:
      return "tags";
    case MismatchKind::kRows:
      return "rows";
    case MismatchKind::kEffects:
      return "effects";
    case MismatchKind::kNonDeterministic:
      return "non_deterministic";
  }
  return "unknown";
}

std::optional<MismatchKind> compare(const WritePair& pair) {
  if (pair.old_side == pair.new_side) return std::nullopt;
  if (pair.nondeterministic) return MismatchKind::kNonDeterministic;
  if (pair.old_side.tags != pair.new_side.tags) return MismatchKind::kTags;
  const bool same_rows = pair.old_side.rows == pair.new_side.rows &&
                         pair.old_side.rows_digest == pair.new_side.rows_digest;
  return same_rows ? MismatchKind::kEffects : MismatchKind::kRows;
}

std::vector<RowDifference> row_differences(const WritePair& pair) {
  return differences(pair.old_side.effects, pair.new_side.effects, kReportedRows);
}

std::string mismatch_line(const WritePair& pair, MismatchKind kind,
                          const std::vector<RowDifference>& rows) {
  char fingerprint[17];
  std::snprintf(fingerprint, sizeof fingerprint, "%016" PRIx64, pair.fingerprint);
  return "{\"unix_ms\":" + std::to_string(pair.unix_ms) +
         ",\"conn\":" + std::to_string(pair.connection_id) + ",\"fingerprint\":\"" + fingerprint +
         "\",\"kind\":\"" + std::string(kind_name(kind)) + "\"" +
         (pair.shadow_read ? ",\"shadow_read\":true" : "") +
         ",\"old\":" + side_json(pair.old_side) + ",\"new\":" + side_json(pair.new_side) +
         effects_json(pair, rows) + "}";
}

std::string_view journal_report_kind(JournalReport::What what) {
  static constexpr std::string_view kKinds[] = {"journal_may_have_applied", "journal_refused",
                                                "journal_corrupt", "journal_commit_unknown"};
  return kKinds[static_cast<size_t>(what)];
}

std::string journal_report_line(const JournalReport& report) {
  char fingerprint[17];
  std::snprintf(fingerprint, sizeof fingerprint, "%016" PRIx64, report.fingerprint);
  auto array = [](const std::vector<std::string>& items) {
    std::string out = "[";
    for (size_t i = 0; i < items.size(); ++i) out += (i > 0 ? "," : "") + json_string(items[i]);
    return out + "]";
  };
  return "{\"unix_ms\":" + std::to_string(report.unix_ms) +
         ",\"conn\":" + std::to_string(report.connection_id) + ",\"fingerprint\":\"" + fingerprint +
         "\",\"kind\":\"" + std::string(journal_report_kind(report.what)) +
         "\",\"sequence\":" + std::to_string(report.sequence) +
         ",\"database\":" + json_string(report.database) + ",\"user\":" + json_string(report.user) +
         ",\"tables\":" + array(report.tables) + ",\"keys\":" + array(report.keys) +
         ",\"detail\":" + json_string(report.detail) + "}";
}

Comparator::Comparator(const std::filesystem::path& mismatch_log, size_t capacity,
                       OnMismatch on_mismatch)
    : capacity_(capacity), on_mismatch_(std::move(on_mismatch)) {
  if (mismatch_log.has_parent_path())
    std::filesystem::create_directories(mismatch_log.parent_path());
  log_ = std::fopen(mismatch_log.c_str(), "a");
  if (log_ == nullptr) {
    throw std::system_error(errno, std::generic_category(),
                            "cannot open the mismatch log " + mismatch_log.string());
  }
  worker_ = std::thread([this] { run(); });
}

Comparator::~Comparator() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_one();
  worker_.join();
  std::fclose(log_);
}

bool Comparator::submit(WritePair pair) {
  bool wake = false;
  {
    std::lock_guard lock(mutex_);
    if (queue_.size() >= capacity_) {
      ++dropped_;
      return false;
    }
    queue_.push_back(std::move(pair));
    wake = queue_.size() >= capacity_ / 2;
  }
  // The worker looks every kPollInterval anyway: waking it for each pair would cost a futex
  // call and a context switch per mirrored write (seen in perf as a few % of cutover's CPU).
  if (wake) wake_.notify_one();
  return true;
}

void Comparator::run() {
  std::unique_lock lock(mutex_);
  for (;;) {
    wake_.wait_for(lock, kPollInterval, [this] { return stopping_ || !queue_.empty(); });
    if (queue_.empty()) {
      if (stopping_) return;  // and everything compared
      continue;
    }
    WritePair pair = std::move(queue_.front());
    queue_.pop_front();
    lock.unlock();
    ++pairs_;
    if (auto kind = compare(pair)) {
      ++mismatches_;
      // Reported first: whoever sees the mismatch log's line can count on the report too.
      const std::vector<RowDifference> rows = row_differences(pair);  // parsed once, for both
      if (on_mismatch_) on_mismatch_(pair, *kind, rows);
      const std::string line = mismatch_line(pair, *kind, rows) + "\n";
      std::fwrite(line.data(), 1, line.size(), log_);
      std::fflush(log_);  // a line is whole on disk (or nowhere) before the next one starts
    }
    lock.lock();
  }
}

}  // namespace cutover::verify
