// Files that must survive a crash whole: a replacement written to a temporary file, fsynced,
// renamed over the old one, and the directory fsynced, so that a crash leaves either the old
// content or the new, never a mix. The journal's replay checkpoint and cutover's state file
// (proxy/control/control_store.h) are kept this way.
#pragma once

#include <filesystem>
#include <string_view>

namespace cutover::verify {

// Both throw std::system_error naming the path.
void fsync_directory(const std::filesystem::path& dir);
void replace_file(const std::filesystem::path& path, std::string_view text);

}  // namespace cutover::verify
