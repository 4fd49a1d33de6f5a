// A small disk a test can fill: a 4 MB tmpfs mounted on a fresh temporary directory (mounting
// needs root; mounted() says whether it worked), unmounted and removed at the end.
#pragma once

#include <fcntl.h>
#include <stdlib.h>
#include <sys/mount.h>
#include <unistd.h>

#include <filesystem>
#include <string>

namespace cutover::testing {

class SmallDisk {
 public:
  SmallDisk() {
    std::string pattern = (std::filesystem::temp_directory_path() / "cutover-disk-XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr) return;
    dir_ = pattern;
    mounted_ = ::mount("tmpfs", dir_.c_str(), "tmpfs", 0, "size=4m") == 0;
  }
  ~SmallDisk() {
    if (mounted_) ::umount2(dir_.c_str(), MNT_DETACH);
    std::error_code ignored;
    if (!dir_.empty()) std::filesystem::remove_all(dir_, ignored);
  }
  SmallDisk(const SmallDisk&) = delete;
  SmallDisk& operator=(const SmallDisk&) = delete;

  bool mounted() const { return mounted_; }
  std::filesystem::path operator/(const std::string& name) const { return dir_ / name; }

  // Fills what is left with one file; the bytes it took.
  size_t fill() const {
    const int fd = ::open((dir_ / "filler").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0) return 0;
    const std::string block(size_t{64} << 10, 'f');
    size_t written = 0;
    for (;;) {
      const ssize_t n = ::write(fd, block.data(), block.size());
      if (n <= 0) break;
      written += static_cast<size_t>(n);
    }
    ::close(fd);
    return written;
  }
  // Gives the space back.
  void free() const { std::filesystem::remove(dir_ / "filler"); }

 private:
  std::filesystem::path dir_;
  bool mounted_ = false;
};

}  // namespace cutover::testing
