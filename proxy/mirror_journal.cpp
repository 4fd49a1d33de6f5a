#include "proxy/mirror_journal.h"

#include <system_error>

#include "proxy/log.h"

namespace cutover::proxy {

MirrorJournal::MirrorJournal(const std::filesystem::path& dir)
    : writer_(dir, {}), holds_records_(writer_.durable_sequence() > 0) {
  if (holds_records()) {
    log::warn("journal_not_replayed",
              {{"records_up_to", writer_.durable_sequence()}, {"effect", "reads stay on old"}});
  }
}

MirrorJournal::~MirrorJournal() { disk_.join(); }

asio::awaitable<uint64_t> MirrorJournal::write(verify::JournalRecord record) {
  const uint64_t sequence = writer_.append(std::move(record));
  holds_records_.store(true, std::memory_order_relaxed);
  // Runs on the disk thread; the caller resumes on its own executor afterwards.
  const bool durable = co_await asio::co_spawn(disk_, commit(sequence), asio::use_awaitable);
  co_return durable ? sequence : 0;
}

asio::awaitable<bool> MirrorJournal::commit(uint64_t sequence) {
  try {
    writer_.commit(sequence);
    co_return true;
  } catch (const std::system_error& e) {
    log::error("journal_write_failed", {{"sequence", sequence}, {"error", e.what()}});
    co_return false;
  }
}

}  // namespace cutover::proxy
