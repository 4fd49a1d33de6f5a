#include "verify/durable_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <string>
#include <system_error>

namespace cutover::verify {
namespace {

[[noreturn]] void fail(const std::string& what) {
  throw std::system_error(errno, std::generic_category(), what);
}

void append(const std::filesystem::path& path, std::string_view line, unsigned permissions,
            bool durable) {
  if (path.has_parent_path()) std::filesystem::create_directories(path.parent_path());
  const std::string whole = std::string(line) + "\n";
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, permissions);
  if (fd < 0) fail("cannot open " + path.string());
  const ssize_t written = ::write(fd, whole.data(), whole.size());
  int error = written < 0 ? errno : 0;
  if (error == 0 && written != static_cast<ssize_t>(whole.size())) error = EIO;  // short write
  if (error == 0 && durable && ::fsync(fd) != 0) error = errno;
  ::close(fd);
  if (error != 0) {
    throw std::system_error(error, std::generic_category(), "cannot write " + path.string());
  }
}

}  // namespace

void append_line(const std::filesystem::path& path, std::string_view line, unsigned permissions) {
  append(path, line, permissions, false);
}

void append_durable_line(const std::filesystem::path& path, std::string_view line,
                         unsigned permissions) {
  append(path, line, permissions, true);
}

void fsync_directory(const std::filesystem::path& dir) {
  const int dir_fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir_fd < 0) fail("cannot open " + dir.string());
  const int synced = ::fsync(dir_fd);
  ::close(dir_fd);
  if (synced != 0) fail("cannot fsync " + dir.string());
}

void replace_file(const std::filesystem::path& path, std::string_view text) {
  const std::filesystem::path temporary = path.string() + ".tmp";
  const int fd = ::open(temporary.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) fail("cannot create " + temporary.string());
  const bool written = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
  const bool synced = written && ::fsync(fd) == 0;
  ::close(fd);
  if (!synced) fail("cannot write " + temporary.string());
  if (::rename(temporary.c_str(), path.c_str()) != 0) fail("cannot replace " + path.string());
  fsync_directory(path.has_parent_path() ? path.parent_path() : std::filesystem::path("."));
}

}  // namespace cutover::verify
