#include "proxy/migration/mirror_journal.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <optional>
#include <stdexcept>
#include <system_error>

#include "proxy/base/log.h"

namespace cutover::proxy {

namespace {
// Never 0 in practice (the clock has run since boot), so 0 can mean "not behind".
int64_t steady_us() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

using Clock = std::chrono::steady_clock;

// How often the replay loop looks whether new is behind, and how long it waits between tries
// when new cannot be reached.
constexpr auto kReplayPoll = std::chrono::milliseconds(100);
constexpr auto kUnreachablePause = std::chrono::seconds(1);
// While a hand-over closes, transactions about to start look again this often. Sessions live
// on several io_contexts, so a wake-up would have to be posted to each; the close lasts a few
// milliseconds, which a short poll serves as well.
constexpr auto kClosingPoll = std::chrono::milliseconds(1);
// Replay waiting this long for transactions mirrored live to end is logged (once per wait).
constexpr auto kLongWait = std::chrono::seconds(10);
// While new is live, settled intents are passed over this often: the checkpoint written, the
// segments holding only them deleted (after a crash replay asks old and new about each intent
// since the last pass).
constexpr auto kLivePassEvery = std::chrono::seconds(1);

int lock_directory(const std::filesystem::path& dir) {
  std::filesystem::create_directories(dir);
  const auto path = dir / "lock";
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0)
    throw std::system_error(errno, std::generic_category(), "cannot open " + path.string());
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    ::close(fd);
    throw std::runtime_error("the journal directory " + dir.string() +
                             " is in use by another cutover process");
  }
  return fd;
}

}  // namespace

MirrorJournal::Transaction::~Transaction() {
  release();
  std::lock_guard lock(journal_.mutex_);
  --(route_ == Route::kLive ? journal_.open_live_ : journal_.open_journaled_);
}

void MirrorJournal::Transaction::reserve() {
  if (reserved_ == 0) reserved_ = journal_.writer_.reserve();
}

void MirrorJournal::Transaction::release() {
  if (reserved_ != 0) journal_.writer_.cancel(std::exchange(reserved_, 0));
}

MirrorJournal::MirrorJournal(const Config& config, DivergenceLedger& divergences)
    : config_(config),
      lock_fd_(lock_directory(config.verify.journal_dir)),
      writer_(config.verify.journal_dir, {}),
      replayer_(config, divergences) {
  replayed_through_ = replayer_.replayed_through();
  if (writer_.written_sequence() > replayer_.replayed_through()) {
    set_mode(Mode::kBehind, "journal_not_replayed", "records found at start");
  }
}

bool MirrorJournal::held_elsewhere(const std::string& dir) {
  try {
    ::close(lock_directory(dir));
    return false;
  } catch (const std::runtime_error&) {
    return true;
  }
}

MirrorJournal::~MirrorJournal() {
  disk_.join();
  if (lock_fd_ >= 0) ::close(lock_fd_);
}

asio::awaitable<MirrorJournal::Route> MirrorJournal::begin_transaction() {
  for (;;) {
    {
      std::lock_guard lock(mutex_);
      const Mode mode = mode_.load();
      if (mode == Mode::kLive) {
        ++open_live_;
        co_return Route::kLive;
      }
      if (mode == Mode::kBehind) {
        ++open_journaled_;
        co_return Route::kJournal;
      }
    }
    co_await sleep_for(kClosingPoll);
  }
}

void MirrorJournal::fall_behind(std::string_view reason) {
  std::lock_guard lock(mutex_);
  if (mode_.load() != Mode::kBehind) set_mode(Mode::kBehind, "mirror_behind", reason);
}

void MirrorJournal::set_mode(Mode mode, std::string_view event, std::string_view reason) {
  if (mode == Mode::kLive) {
    behind_since_us_.store(0);
  } else if (behind_since_us_.load() == 0) {
    behind_since_us_.store(steady_us());
  }
  mode_.store(mode);
  log::warn(event, {{"reason", reason},
                    {"effect", mode == Mode::kLive ? "writes mirrored live, reads may use new"
                                                   : "writes journaled, reads stay on old"}});
}

asio::awaitable<uint64_t> MirrorJournal::write(verify::JournalRecord record, uint64_t reserved,
                                               Durability durability) {
  uint64_t sequence = reserved;
  if (sequence != 0) {
    writer_.fill(sequence, std::move(record));
  } else {
    sequence = writer_.append(std::move(record));
  }
  // Runs on the disk thread; the caller resumes on its own executor afterwards.
  const bool durable =
      co_await asio::co_spawn(disk_, commit(sequence, durability), asio::use_awaitable);
  co_return durable ? sequence : 0;
}

asio::awaitable<uint64_t> MirrorJournal::write_intent(verify::JournalRecord record,
                                                      Durability durability) {
  record.intent = true;
  const uint64_t sequence = writer_.reserve();
  {
    std::lock_guard lock(mutex_);
    unsettled_.insert(sequence);  // before it can be durable: replay must not pass it
  }
  const uint64_t written = co_await write(std::move(record), sequence, durability);
  if (written == 0) {
    std::lock_guard lock(mutex_);
    unsettled_.erase(sequence);
  }
  co_return written;
}

asio::awaitable<bool> MirrorJournal::settle_intent(uint64_t sequence, bool replay, bool marker) {
  using Outcome = verify::JournalRecord::Outcome;
  bool durable = true;
  if (replay) {  // an intent only written while new had it all: new needs it now
    durable =
        co_await asio::co_spawn(disk_, commit(sequence, Durability::kSynced), asio::use_awaitable);
  }
  if (marker) {
    verify::JournalRecord record{.outcome = replay ? Outcome::kReplay : Outcome::kSkip,
                                 .resolves = sequence};
    const uint64_t written = co_await write(std::move(record), 0);
    // After a crash the intent is then reported for verification (journal_commit_unknown), or
    // replayed by old's word.
    if (written == 0) log::warn("journal_marker_not_written", {{"intent", sequence}});
  }
  std::lock_guard lock(mutex_);
  settled_[sequence] = replay;
  unsettled_.erase(sequence);
  co_return durable;
}

// What this process knows of intents replay has not passed yet.
JournalReplayer::Settled MirrorJournal::settled_after(uint64_t replayed) {
  std::lock_guard lock(mutex_);
  settled_.erase(settled_.begin(), settled_.upper_bound(replayed));
  return settled_;
}

uint64_t MirrorJournal::replayable_through() {
  std::lock_guard lock(mutex_);
  return replayable_through_locked();
}

uint64_t MirrorJournal::replayable_through_locked() const {
  const uint64_t durable = writer_.written_sequence();
  return unsettled_.empty() ? durable : std::min(durable, *unsettled_.begin() - 1);
}

// While new is live: the intents up to `through` need no replay. The checkpoint moves past them
// and the segments holding only such records are deleted.
void MirrorJournal::pass_over(uint64_t through) {
  if (through <= replayer_.replayed_through()) return;
  try {
    replayer_.pass_over(through);
    settled_.erase(settled_.begin(), settled_.upper_bound(through));
    replayed_through_ = through;
    writer_.retire_segments_through(through);
  } catch (const std::exception& e) {  // the checkpoint: the disk
    log::error("journal_replay_failed", {{"error", e.what()}});
  }
}

uint64_t MirrorJournal::records_behind() const {
  if (!holds_records()) return 0;
  const uint64_t durable = writer_.written_sequence();
  const uint64_t replayed = replayed_through_.load();
  return durable > replayed ? durable - replayed : 0;
}

asio::awaitable<bool> MirrorJournal::commit(uint64_t sequence, Durability durability) {
  try {
    writer_.commit(sequence, durability);
    co_return true;
  } catch (const std::system_error& e) {
    log::error("journal_write_failed", {{"sequence", sequence}, {"error", e.what()}});
    co_return false;
  }
}

asio::awaitable<void> MirrorJournal::run_replay(
    std::function<std::shared_ptr<const Secrets>()> secrets) {
  std::optional<Clock::time_point> waiting_since;  // for live transactions to end
  bool waited_long = false;                        // and that was logged
  Clock::time_point passed_at{};                   // the last pass over intents while live
  while (!stopping_.load()) {
    co_await sleep_for(kReplayPoll);
    {
      std::lock_guard lock(mutex_);
      if (mode_.load() == Mode::kLive) {
        // Every settled intent is one new has (a transaction new missed makes new behind
        // before its intent is settled): passed over without reading, at most once a second.
        if (Clock::now() - passed_at >= kLivePassEvery) {
          passed_at = Clock::now();
          pass_over(replayable_through_locked());
        }
        continue;
      }
      if (mode_.load() != Mode::kBehind) continue;
      // Live transactions begun before new fell behind must end on new first.
      if (open_live_ > 0) {
        if (!waiting_since) waiting_since = Clock::now();
        if (Clock::now() - *waiting_since > kLongWait && !std::exchange(waited_long, true)) {
          log::warn("journal_replay_waiting",
                    {{"live_transactions", open_live_}, {"for", "their clients to end them"}});
        }
        continue;
      }
      waiting_since.reset();
      waited_long = false;
    }
    bool pause = false;
    try {
      const uint64_t through = replayable_through();
      auto progress = co_await replayer_.replay(secrets(), through, &stopping_,
                                                settled_after(replayer_.replayed_through()));
      replayed_total_ += progress.replayed;
      replayed_through_ = replayer_.replayed_through();
      pause = progress.new_unreachable;
    } catch (const std::exception& e) {  // the checkpoint or the mismatch log: the disk
      log::error("journal_replay_failed", {{"error", e.what()}});
      pause = true;
    }
    if (pause) {
      co_await sleep_for(kUnreachablePause);
    } else if (!stopping_.load() && replayer_.replayed_through() >= writer_.written_sequence()) {
      co_await hand_over(secrets());
    }
  }
  {
    // Stopped after the last session: a clean stop leaves no settled intent for the next
    // start to ask old and new about.
    std::lock_guard lock(mutex_);
    if (mode_.load() == Mode::kLive) pass_over(replayable_through_locked());
  }
  replayer_.disconnect();
}

// Steps 2 to 4 of the hand-over (see the top); false when it was called off.
asio::awaitable<bool> MirrorJournal::hand_over(const std::shared_ptr<const Secrets>& secrets) {
  {
    std::lock_guard lock(mutex_);
    if (mode_.load() != Mode::kBehind) co_return false;
    mode_.store(Mode::kClosing);
  }
  const auto deadline = Clock::now() + config_.migration.mirror.handover_timeout;
  for (;;) {
    {
      std::lock_guard lock(mutex_);
      if (open_journaled_ == 0) break;
    }
    if (Clock::now() >= deadline) {
      set_mode(Mode::kBehind, "mirror_handover_postponed", "a journaled transaction is still open");
      co_return false;
    }
    co_await sleep_for(kClosingPoll);
  }
  // No transaction is open, so no intent is either; retire_through() checks that nothing is
  // durable past `last`.
  const uint64_t last = replayable_through();
  bool finished = false;
  try {
    auto progress = co_await replayer_.replay(secrets, last, nullptr,
                                              settled_after(replayer_.replayed_through()));
    replayed_total_ += progress.replayed;
    replayed_through_ = replayer_.replayed_through();
    finished = !progress.new_unreachable && replayer_.replayed_through() >= last &&
               writer_.retire_through(last);
  } catch (const std::exception& e) {
    log::error("journal_replay_failed", {{"error", e.what()}});
  }
  if (!finished) {
    set_mode(Mode::kBehind, "mirror_handover_postponed", "new could not take the last records");
    co_return false;
  }
  std::lock_guard lock(mutex_);
  set_mode(Mode::kLive, "mirror_live", "journal replayed to its end");
  log::info("journal_replayed", {{"through", last}, {"records_replayed", replayed_total_}});
  co_return true;
}

asio::awaitable<ReplayProgress> MirrorJournal::replay_all(std::shared_ptr<const Secrets> secrets) {
  const uint64_t last = writer_.written_sequence();
  auto progress = co_await replayer_.replay(std::move(secrets), last, nullptr);
  replayer_.disconnect();
  if (!progress.new_unreachable && replayer_.replayed_through() >= last) {
    writer_.retire_through(last);
    mode_.store(Mode::kLive);
  }
  co_return progress;
}

double MirrorJournal::lag_seconds() const {
  const int64_t since = behind_since_us_.load();
  return since == 0 ? 0.0 : static_cast<double>(steady_us() - since) / 1e6;
}

uint64_t MirrorJournal::bytes_on_disk() const {
  uint64_t bytes = 0;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(config_.verify.journal_dir, ec)) {
    if (entry.is_regular_file(ec)) bytes += entry.file_size(ec);
  }
  return bytes;
}

}  // namespace cutover::proxy
