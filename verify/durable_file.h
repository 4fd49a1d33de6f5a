// Files that must survive a crash whole: a replacement written to a temporary file, fsynced,
// renamed over the old one, and the directory fsynced, so that a crash leaves either the old
// content or the new, never a mix. The journal's replay checkpoint and cutover's state file
// (proxy/control/control_store.h) are kept this way. Logs of JSON lines are appended to.
#pragma once

#include <filesystem>
#include <string_view>

namespace cutover::verify {

// Both throw std::system_error naming the path.
void fsync_directory(const std::filesystem::path& dir);
void replace_file(const std::filesystem::path& path, std::string_view text);

// Appends `line` and a newline with one write to the file opened O_APPEND (created with
// `permissions`, its directory too), so that lines from several threads never interleave.
// append_durable_line() also fsyncs before it returns: the audit log and the divergence ledger
// must hold every line their caller went on after. Both throw std::system_error naming the path.
void append_line(const std::filesystem::path& path, std::string_view line,
                 unsigned permissions = 0644);
void append_durable_line(const std::filesystem::path& path, std::string_view line,
                         unsigned permissions = 0644);

}  // namespace cutover::verify
