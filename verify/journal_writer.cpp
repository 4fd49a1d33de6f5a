#include "verify/journal_writer.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <exception>
#include <string_view>
#include <system_error>

#include "verify/durable_file.h"

namespace cutover::verify {
namespace {

namespace fs = std::filesystem;

[[noreturn]] void fail(const std::string& what) {
  throw std::system_error(errno, std::generic_category(), what);
}

}  // namespace

JournalWriter::JournalWriter(fs::path dir, Options options)
    : dir_(std::move(dir)), options_(options) {
  fs::create_directories(dir_);
  JournalContents existing = read_journal(dir_);
  if (!existing.records.empty()) next_sequence_ = existing.records.back().sequence + 1;
  auto files = journal_segments(dir_);
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
  resolve(sequence, encode_record(record));  // encoded outside the lock
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
  const fs::path kept = dir_ / journal_segments(dir_).back().filename();
  for (const auto& segment : journal_segments(dir_)) {
    if (segment != kept) fs::remove(segment);
  }
  fsync_directory(dir_);
  return true;
}

void JournalWriter::retire_segments_through(uint64_t through) {
  std::lock_guard lock(mutex_);
  const auto files = journal_segments(dir_);
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
