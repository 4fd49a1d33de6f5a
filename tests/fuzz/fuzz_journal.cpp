// libFuzzer target: the journal reader on arbitrary segment bytes (what a damaged disk could
// hold). It never crashes; every record it returns is, byte for byte, a record the writer
// would have written and appears in the input; every problem lies inside the input; and the
// records and problems it reports never overlap and account for every byte.
#include <cstddef>
#include <cstdint>
#include <string>

#include "verify/journal.h"

namespace {

void check(bool ok) {
  if (!ok) __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const bool last = (data[0] & 1) != 0;
  const std::string_view segment(reinterpret_cast<const char*>(data) + 1, size - 1);
  cutover::verify::JournalContents got;
  cutover::verify::scan_segment(segment, "fuzz.seg", last, got);
  uint64_t covered = 0;
  for (const auto& record : got.records) {
    std::string bytes = cutover::verify::encode_record(record);
    check(segment.find(bytes) != std::string_view::npos);
    covered += bytes.size();
  }
  for (const auto& problem : got.problems) {
    check(problem.offset + problem.bytes <= segment.size());
    check(last || problem.kind == cutover::verify::JournalProblem::Kind::kCorrupt);
    covered += problem.bytes;
  }
  check(covered == segment.size());
  return 0;
}
