#include "verify/journal.h"

#include <algorithm>
#include <boost/crc.hpp>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <optional>

namespace cutover::verify {
namespace {

namespace fs = std::filesystem;

// Each record: this marker, the payload's length, a CRC-32C over length and payload, then the
// payload. The marker lets a reader find the next record after corrupt bytes.
constexpr std::string_view kMarker = "JRNL";
constexpr size_t kHeaderSize = 12;
constexpr uint32_t kMaxPayload = uint32_t{1} << 30;

// CRC-32C (Castagnoli), as iSCSI and ext4 use: better error detection than CRC-32 (IEEE).
// Boost.CRC rather than a hand-written table.
uint32_t crc32c(std::string_view a, std::string_view b) {
  boost::crc_optimal<32, 0x1EDC6F41, 0xFFFFFFFF, 0xFFFFFFFF, true, true> crc;
  crc.process_bytes(a.data(), a.size());
  crc.process_bytes(b.data(), b.size());
  return crc.checksum();
}

void put(std::string& out, uint64_t value, int bytes) {
  for (int shift = (bytes - 1) * 8; shift >= 0; shift -= 8) {
    out.push_back(static_cast<char>((value >> shift) & 0xff));
  }
}

void put_string(std::string& out, std::string_view s) {
  put(out, s.size(), 4);
  out.append(s);
}

// Reads big-endian fields from a payload; any read past its end makes it fail.
class Reader {
 public:
  explicit Reader(std::string_view data) : data_(data) {}
  uint64_t take(int bytes) {
    if (data_.size() < static_cast<size_t>(bytes)) {
      ok_ = false;
      return 0;
    }
    uint64_t value = 0;
    for (int i = 0; i < bytes; ++i) value = (value << 8) | static_cast<uint8_t>(data_[i]);
    data_.remove_prefix(static_cast<size_t>(bytes));
    return value;
  }
  std::string take_string() {
    uint64_t size = take(4);
    if (!ok_ || data_.size() < size) {
      ok_ = false;
      return {};
    }
    std::string s(data_.substr(0, size));
    data_.remove_prefix(size);
    return s;
  }
  bool done() const { return ok_ && data_.empty(); }

 private:
  std::string_view data_;
  bool ok_ = true;
};

std::string encode(const JournalRecord& r) {
  std::string payload;
  put(payload, r.sequence, 8);
  put(payload, static_cast<uint8_t>(r.outcome), 1);
  put(payload, static_cast<uint64_t>(r.unix_ms), 8);
  put(payload, r.connection_id, 8);
  put(payload, r.fingerprint, 8);
  put(payload, r.mirror_transaction_id, 8);
  put_string(payload, r.database);
  put_string(payload, r.user);
  put_string(payload, r.unit);
  put(payload, r.intent ? 1 : 0, 1);
  put(payload, r.source_transaction_id, 8);
  put(payload, r.resolves, 8);
  std::string length;
  put(length, payload.size(), 4);
  std::string out(kMarker);
  out += length;
  put(out, crc32c(length, payload), 4);
  out += payload;
  return out;
}

std::optional<JournalRecord> decode(std::string_view payload) {
  Reader in(payload);
  JournalRecord r;
  r.sequence = in.take(8);
  auto outcome = in.take(1);
  r.unix_ms = static_cast<int64_t>(in.take(8));
  r.connection_id = in.take(8);
  r.fingerprint = in.take(8);
  r.mirror_transaction_id = in.take(8);
  r.database = in.take_string();
  r.user = in.take_string();
  r.unit = in.take_string();
  // Records of cutover before intents end here: written after the source committed.
  if (!in.done()) {
    r.intent = in.take(1) == 1;
    r.source_transaction_id = in.take(8);
    r.resolves = in.take(8);
  }
  if (!in.done() || outcome < 1 || outcome > 4) return std::nullopt;
  r.outcome = static_cast<JournalRecord::Outcome>(outcome);
  return r;
}

enum class Found { kRecord, kIncomplete, kInvalid };

// What starts at `at`: a valid record (its total size in `size`), the start of one that the
// data ends inside, or bytes that are no record.
Found record_at(std::string_view data, size_t at, size_t& size, JournalRecord* record) {
  std::string_view rest = data.substr(at);
  if (rest.size() < kHeaderSize) {
    return kMarker.starts_with(rest.substr(0, std::min(rest.size(), kMarker.size())))
               ? Found::kIncomplete
               : Found::kInvalid;
  }
  if (!rest.starts_with(kMarker)) return Found::kInvalid;
  Reader header(rest.substr(kMarker.size(), 8));
  auto length = static_cast<uint32_t>(header.take(4));
  auto crc = static_cast<uint32_t>(header.take(4));
  if (length > kMaxPayload) return Found::kInvalid;
  if (rest.size() < kHeaderSize + length) return Found::kIncomplete;
  std::string_view payload = rest.substr(kHeaderSize, length);
  if (crc32c(rest.substr(kMarker.size(), 4), payload) != crc) return Found::kInvalid;
  auto decoded = decode(payload);
  if (!decoded) return Found::kInvalid;
  if (record != nullptr) *record = std::move(*decoded);
  size = kHeaderSize + length;
  return Found::kRecord;
}

// The next offset after `from` where a valid record starts, or data.size().
size_t resync(std::string_view data, size_t from) {
  for (size_t at = data.find(kMarker, from); at != std::string_view::npos;
       at = data.find(kMarker, at + 1)) {
    size_t size = 0;
    if (record_at(data, at, size, nullptr) == Found::kRecord) return at;
  }
  return data.size();
}

}  // namespace

std::vector<fs::path> journal_segments(const fs::path& dir) {
  std::vector<fs::path> out;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    const std::string name = entry.path().filename().string();
    if (name.starts_with("journal-") && name.ends_with(".seg")) out.push_back(entry.path());
  }
  std::sort(out.begin(), out.end());  // zero-padded first sequences sort by number
  return out;
}

uint64_t first_sequence_of(const fs::path& segment) {
  const std::string digits =
      segment.filename().string().substr(std::string_view("journal-").size());
  return std::strtoull(digits.c_str(), nullptr, 10);
}

void scan_segment(std::string_view data, const fs::path& path, bool last, JournalContents& out) {
  for (size_t at = 0; at < data.size();) {
    size_t size = 0;
    JournalRecord record;
    Found found = record_at(data, at, size, &record);
    if (found == Found::kRecord) {
      out.records.push_back(std::move(record));
      at += size;
      continue;
    }
    size_t next = resync(data, at + 1);
    // Only the end of the last segment can be a write cut short by a crash; a record that
    // seems to run past the end but has valid records after it is corruption.
    bool torn = last && found == Found::kIncomplete && next == data.size();
    out.problems.push_back({torn ? JournalProblem::Kind::kTornTail : JournalProblem::Kind::kCorrupt,
                            path, at, next - at});
    at = next;
  }
}

JournalContents read_journal(const fs::path& dir, uint64_t after) {
  JournalContents out;
  auto files = journal_segments(dir);
  for (size_t i = 0; i < files.size(); ++i) {
    // Every record of segment i comes before the next segment's first.
    if (i + 1 < files.size() && first_sequence_of(files[i + 1]) <= after + 1) continue;
    std::ifstream file(files[i], std::ios::binary);
    const std::string data((std::istreambuf_iterator<char>(file)),
                           std::istreambuf_iterator<char>());
    scan_segment(data, files[i], i + 1 == files.size(), out);
  }
  return out;
}

std::string encode_record(const JournalRecord& record) { return encode(record); }

}  // namespace cutover::verify
