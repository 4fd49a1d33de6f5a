#include "verify/journal.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <boost/crc.hpp>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <optional>
#include <system_error>

#include "verify/durable_file.h"

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

std::vector<fs::path> segments(const fs::path& dir) {
  std::vector<fs::path> out;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    const std::string name = entry.path().filename().string();
    if (name.starts_with("journal-") && name.ends_with(".seg")) out.push_back(entry.path());
  }
  std::sort(out.begin(), out.end());  // zero-padded first sequences sort by number
  return out;
}

// The sequence a segment's name says its first record has (journal-<sequence>.seg).
uint64_t first_sequence_of(const fs::path& segment) {
  const std::string digits =
      segment.filename().string().substr(std::string_view("journal-").size());
  return std::strtoull(digits.c_str(), nullptr, 10);
}

[[noreturn]] void fail(const std::string& what) {
  throw std::system_error(errno, std::generic_category(), what);
}

}  // namespace

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
  auto files = segments(dir);
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

JournalWriter::JournalWriter(fs::path dir, Options options)
    : dir_(std::move(dir)), options_(options) {
  fs::create_directories(dir_);
  JournalContents existing = read_journal(dir_);
  if (!existing.records.empty()) next_sequence_ = existing.records.back().sequence + 1;
  auto files = segments(dir_);
  // An empty segment left by retire_through() carries the sequence on.
  if (!files.empty()) next_sequence_ = std::max(next_sequence_, first_sequence_of(files.back()));
  durable_ = written_ = pending_last_ = next_sequence_ - 1;
  if (files.empty()) return;  // the first commit opens a segment
  // A torn tail was never acknowledged: cut it off so new records follow whole ones.
  for (const auto& p : existing.problems) {
    if (p.kind == JournalProblem::Kind::kTornTail) fs::resize_file(p.segment, p.offset);
  }
  fd_ = ::open(files.back().c_str(), O_WRONLY | O_APPEND | O_CLOEXEC);
  if (fd_ < 0) fail("journal: cannot open " + files.back().string());
  segment_size_ = fs::file_size(files.back());
}

JournalWriter::~JournalWriter() {
  if (fd_ >= 0) ::close(fd_);
}

uint64_t JournalWriter::append(JournalRecord record) {
  const uint64_t sequence = reserve();
  fill(sequence, std::move(record));
  return sequence;
}

uint64_t JournalWriter::reserve() {
  std::lock_guard lock(mutex_);
  const uint64_t sequence = next_sequence_++;
  reserved_[sequence] = {};
  return sequence;
}

void JournalWriter::fill(uint64_t sequence, JournalRecord record) {
  record.sequence = sequence;
  resolve(sequence, encode(record));  // encoded outside the lock
}

void JournalWriter::cancel(uint64_t sequence) { resolve(sequence, {}); }

// Moves every resolved reservation that no unresolved one precedes into pending_.
void JournalWriter::resolve(uint64_t sequence, std::string bytes) {
  std::lock_guard lock(mutex_);
  reserved_[sequence] = {.resolved = true, .bytes = std::move(bytes)};
  for (auto it = reserved_.begin();
       it != reserved_.end() && it->second.resolved && it->first == pending_last_ + 1;
       it = reserved_.erase(it)) {
    pending_ += it->second.bytes;
    pending_last_ = it->first;
  }
  durable_changed_.notify_all();  // a commit may be waiting for this prefix
}

void JournalWriter::commit(uint64_t sequence, Durability durability) {
  const bool sync = durability == Durability::kSynced;
  std::unique_lock lock(mutex_);
  while ((sync ? durable_ : written_) < sequence) {
    if (syncing_ || pending_last_ < sequence) {  // another thread writes, or a reservation
      durable_changed_.wait(lock);               // before `sequence` is not resolved yet
      continue;
    }
    // This thread writes everything queued so far (and syncs what was written, when asked);
    // the others wait for it.
    syncing_ = true;
    std::string bytes = std::move(pending_);
    pending_.clear();
    const uint64_t first = written_ + 1;
    const uint64_t last = pending_last_;
    lock.unlock();
    std::exception_ptr failure;
    try {
      write_out(bytes, first, sync);
    } catch (...) {
      failure = std::current_exception();
      cut_back();
    }
    lock.lock();
    syncing_ = false;
    written_ = last;  // in the file, or given up: either way later records may go next
    if (sync || failure) durable_ = last;
    failing_ = failure != nullptr;
    if (failure) {
      constexpr size_t kLostKept = 1024;  // far more than writers waiting at any one time
      lost_.emplace_back(first, last);
      if (lost_.size() > kLostKept) lost_.pop_front();
    } else if (sync) {
      ++syncs_;
    }
    durable_changed_.notify_all();
  }
  for (const auto& [first, last] : lost_) {
    if (sequence >= first && sequence <= last) {
      throw std::system_error(ENOSPC, std::generic_category(),
                              "journal: the write holding record " + std::to_string(sequence) +
                                  " failed (" + dir_.string() + ")");
    }
  }
}

// A failed write may have left part of its bytes in the segment: they are cut off, so the
// next records follow whole ones. If even that fails, the next write starts a new segment (the
// scrap is then reported as corrupt, never replayed).
void JournalWriter::cut_back() {
  if (fd_ >= 0 && ::ftruncate(fd_, static_cast<off_t>(segment_size_)) == 0) return;
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

bool JournalWriter::writable() {
  std::lock_guard lock(mutex_);
  if (!failing_) return true;
  const auto now = std::chrono::steady_clock::now();
  if (now - last_probe_ < std::chrono::seconds(1)) return false;
  last_probe_ = now;
  const fs::path probe = dir_ / "probe";
  const std::string bytes(size_t{1} << 20, '\0');  // room for a large record
  const int fd = ::open(probe.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  bool ok = fd >= 0 &&
            ::write(fd, bytes.data(), bytes.size()) == static_cast<ssize_t>(bytes.size()) &&
            ::fdatasync(fd) == 0;
  if (fd >= 0) ::close(fd);
  std::error_code ignored;
  fs::remove(probe, ignored);
  failing_ = !ok;
  return ok;
}

void JournalWriter::write_out(const std::string& bytes, uint64_t first_sequence, bool sync) {
  if (!bytes.empty() &&
      (fd_ < 0 || (segment_size_ > 0 && segment_size_ + bytes.size() > options_.segment_bytes))) {
    open_segment(first_sequence);
  }
  for (std::string_view rest = bytes; !rest.empty();) {
    ssize_t n = ::write(fd_, rest.data(), rest.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) fail("journal: write");
    rest.remove_prefix(static_cast<size_t>(n));
  }
  segment_size_ += bytes.size();
  if (sync && fd_ >= 0 && ::fdatasync(fd_) != 0) fail("journal: fdatasync");
}

void JournalWriter::open_segment(uint64_t first_sequence) {
  if (fd_ >= 0) {
    // Records only written to the segment closing must not wait for a sync that no longer
    // reaches them.
    if (::fdatasync(fd_) != 0) fail("journal: fdatasync");
    ::close(fd_);
    fd_ = -1;
  }
  char name[64];
  std::snprintf(name, sizeof name, "journal-%020llu.seg",
                static_cast<unsigned long long>(first_sequence));
  const fs::path path = dir_ / name;
  fd_ = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (fd_ < 0) fail("journal: cannot create " + path.string());
  segment_size_ = 0;
  // The new file's directory entry must be durable too, or a crash could lose the segment.
  fsync_directory(dir_);
}

bool JournalWriter::retire_through(uint64_t through) {
  std::lock_guard lock(mutex_);
  if (syncing_ || !reserved_.empty() || !pending_.empty() || written_ != through) {
    return false;
  }
  open_segment(through + 1);  // empty: its name carries the sequence on
  const fs::path kept = dir_ / segments(dir_).back().filename();
  for (const auto& segment : segments(dir_)) {
    if (segment != kept) fs::remove(segment);
  }
  fsync_directory(dir_);
  return true;
}

void JournalWriter::retire_segments_through(uint64_t through) {
  std::lock_guard lock(mutex_);
  const auto files = segments(dir_);
  bool removed = false;
  for (size_t i = 0; i + 1 < files.size() && first_sequence_of(files[i + 1]) <= through + 1; ++i) {
    fs::remove(files[i]);
    removed = true;
  }
  if (removed) fsync_directory(dir_);
}

uint64_t JournalWriter::durable_sequence() const {
  std::lock_guard lock(mutex_);
  return durable_;
}

uint64_t JournalWriter::written_sequence() const {
  std::lock_guard lock(mutex_);
  return written_;
}

uint64_t JournalWriter::syncs() const {
  std::lock_guard lock(mutex_);
  return syncs_;
}

}  // namespace cutover::verify
