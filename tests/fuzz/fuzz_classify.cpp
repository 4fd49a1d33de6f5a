// libFuzzer target: SQL classification of arbitrary client text. The literal normaliser and
// the libpg_query-based classifier never crash or hang; normalising is idempotent (a key never
// normalises further, so two texts cannot meet on a second pass); and the cache gives the same
// kind as a direct parse for the text it was asked about. Pinning the time functions of a text
// that parses gives a text that still parses, of the same kind.
#include <cstddef>
#include <cstdint>
#include <string>

#include "router/classify.h"
#include "router/normalize.h"
#include "router/pinning.h"

namespace {

void check(bool ok) {
  if (!ok) __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > 4096) return 0;  // the parser is linear; longer inputs only slow the search
  std::string sql(reinterpret_cast<const char*>(data), size);
  if (sql.find('\0') != std::string::npos) return 0;  // a Query string cannot hold a NUL
  std::string key = cutover::router::normalize_literals(sql);
  check(cutover::router::normalize_literals(key) == key);
  static const cutover::router::Classifier classifier;
  cutover::router::ClassificationCache cache(classifier, 4);
  const cutover::router::Classification direct = classifier.classify(sql);
  check(cache.classify(sql).kind == direct.kind);
  auto found = cutover::router::find_nondeterminism(sql);
  if (found && !found->time_calls.empty()) {
    const std::string pinned = cutover::router::pin_time(
        sql, found->time_calls, "2026-01-01 00:00:00.000000+00", "2026-01-01 00:00:01.000000+00");
    const cutover::router::Classification after = classifier.classify(pinned);
    check(after.error.empty() && after.kind == direct.kind);
  }
  return 0;
}
