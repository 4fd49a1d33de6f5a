#include "verify/replay_checkpoint.h"

#include <cstdlib>
#include <fstream>
#include <stdexcept>
#include <string>
#include <string_view>

#include "verify/durable_file.h"

namespace cutover::verify {
namespace {

namespace fs = std::filesystem;

constexpr std::string_view kCheckpointFile = "replayed";

}  // namespace

ReplayCheckpoint read_checkpoint(const fs::path& dir) {
  std::ifstream file(dir / kCheckpointFile);
  if (!file) return {};
  ReplayCheckpoint checkpoint;
  std::string through, in_doubt;
  file >> through >> in_doubt;
  auto value = [&](const std::string& field, std::string_view name, uint64_t& out) {
    if (!field.starts_with(name)) return false;
    const std::string digits = field.substr(name.size());
    char* end = nullptr;
    out = std::strtoull(digits.c_str(), &end, 10);
    return !digits.empty() && *end == '\0';
  };
  if (!value(through, "through=", checkpoint.through) ||
      !value(in_doubt, "in_doubt=", checkpoint.in_doubt)) {
    throw std::runtime_error("journal: unreadable replay checkpoint " +
                             (dir / kCheckpointFile).string());
  }
  return checkpoint;
}

void write_checkpoint(const fs::path& dir, const ReplayCheckpoint& checkpoint) {
  replace_file(dir / kCheckpointFile, "through=" + std::to_string(checkpoint.through) +
                                          " in_doubt=" + std::to_string(checkpoint.in_doubt) +
                                          "\n");
}

}  // namespace cutover::verify
