// libFuzzer target: configuration loading. Any input either parses, and then its effective
// configuration parses again to the same effective configuration, or is refused with a
// ConfigError; no other exception, crash or hang. Not for the YAML library's own internals.
#include <cstddef>
#include <cstdint>
#include <string>

#include "proxy/base/config.h"

namespace {

void check(bool ok) {
  if (!ok) __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);
  cutover::proxy::Config config;
  try {
    config = cutover::proxy::parse_config(text);
  } catch (const cutover::proxy::ConfigError&) {
    return 0;
  }
  std::string effective = cutover::proxy::to_yaml(config);
  check(cutover::proxy::to_yaml(cutover::proxy::parse_config(effective)) == effective);
  return 0;
}
