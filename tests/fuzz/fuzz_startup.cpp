// libFuzzer target: the untyped startup family (next_startup_frame, decode_startup_packet) with
// a lossless round-trip check. Not for typed messages (fuzz_frames.cpp).
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <variant>

#include "protocol/framing.h"
#include "protocol/startup.h"

namespace cutover::protocol {
namespace {

// A trap, not assert(): the fuzz build is RelWithDebInfo, where assert() is compiled out.
void check(bool ok) {
  if (!ok) __builtin_trap();
}

void check_packet(std::string_view packet, std::string_view body) {
  auto first = decode_startup_packet(body);
  if (!first) {
    check(first.error().category() == protocol_category());
    return;
  }
  if (const auto* m = std::get_if<StartupMessage>(&*first)) {
    check(m->get("user").has_value());
    check((static_cast<uint32_t>(m->protocol_version) >> 16) == 3);
  }
  // decode -> encode gives back the packet's own bytes, and decoding them again agrees.
  std::string bytes;
  std::visit([&bytes](const auto& m) { encode(m, bytes); }, *first);
  check(bytes == packet);
  FrameResult f = next_startup_frame(bytes);
  check(f.status == FrameStatus::kFrame && f.consumed == bytes.size());
  auto second = decode_startup_packet(f.body);
  check(second.has_value() && *second == *first);
}

void fuzz_one(std::string_view input) {
  FrameResult r = next_startup_frame(input);
  if (r.status == FrameStatus::kNeedMore) check(input.size() < kMaxStartupPacket);
  if (r.status != FrameStatus::kFrame) return;
  check(r.consumed >= 8 && r.consumed <= input.size() && r.body.size() + 4 == r.consumed);

  // Every proper prefix of a whole packet must ask for more, never yield a frame.
  for (size_t n : {size_t{0}, size_t{4}, r.consumed / 2, r.consumed - 1}) {
    check(next_startup_frame(input.substr(0, n)).status == FrameStatus::kNeedMore);
  }
  check_packet(input.substr(0, r.consumed), r.body);
}

}  // namespace
}  // namespace cutover::protocol

// NOLINTNEXTLINE(readability-identifier-naming): the name libFuzzer calls
extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  cutover::protocol::fuzz_one(std::string_view(reinterpret_cast<const char*>(data), size));
  return 0;
}
