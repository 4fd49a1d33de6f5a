// How far replay of the mirror-failure journal got, kept next to its segments (file
// `replayed`, replaced atomically). Not the journal itself (journal.h).
#pragma once

#include <cstdint>
#include <filesystem>

namespace cutover::verify {

// Every record up to `through` was replayed or reported. `in_doubt` names a record whose commit was
// sent to the mirror but whose answer was not seen: after a crash it may or may not have
// applied, so it is reported, never replayed again. 0: none.
struct ReplayCheckpoint {
  uint64_t through = 0;
  uint64_t in_doubt = 0;
  friend bool operator==(const ReplayCheckpoint&, const ReplayCheckpoint&) = default;
};
// A missing file is {0, 0}; an unreadable one throws std::runtime_error (replay must not guess).
ReplayCheckpoint read_checkpoint(const std::filesystem::path& dir);
// Durable once it returns (write, fsync, rename, fsync of the directory); throws
// std::system_error when the disk refuses.
void write_checkpoint(const std::filesystem::path& dir, const ReplayCheckpoint& checkpoint);

}  // namespace cutover::verify
