// The mirror-failure journal as sessions use it: a write new did not take is appended and made
// durable before the client hears that it committed. The fdatasync runs on a thread of its own,
// so a session waiting for the disk never stalls the other sessions of its io_context; group
// commit (verify/journal.h) lets one sync cover every session's records that are waiting.
#pragma once

#include <atomic>
#include <filesystem>

#include "proxy/asio.h"
#include "verify/journal.h"

namespace cutover::proxy {

class MirrorJournal {
 public:
  // Opens (creating) the journal directory; throws std::system_error when it cannot.
  explicit MirrorJournal(const std::filesystem::path& dir);
  ~MirrorJournal();
  MirrorJournal(const MirrorJournal&) = delete;
  MirrorJournal& operator=(const MirrorJournal&) = delete;

  // Appends `record` and returns once it is on disk: its sequence, or 0 when the disk refused
  // (the write must then not be acknowledged).
  asio::awaitable<uint64_t> write(verify::JournalRecord record);

  uint64_t durable_sequence() const { return writer_.durable_sequence(); }
  // Records are waiting for replay (found at start or written since): new lacks writes, so
  // no read may go there. A relaxed load: sessions ask before every read on new.
  bool holds_records() const { return holds_records_.load(std::memory_order_relaxed); }

 private:
  asio::awaitable<bool> commit(uint64_t sequence);

  verify::JournalWriter writer_;
  std::atomic<bool> holds_records_;
  asio::thread_pool disk_{1};
};

}  // namespace cutover::proxy
