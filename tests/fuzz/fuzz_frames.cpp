// libFuzzer target: typed framing (next_frame against FrameScanner) and both message decoders,
// with a lossless round-trip check. Not for the startup family (fuzz_startup.cpp).
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "protocol/backend.h"
#include "protocol/framing.h"
#include "protocol/frontend.h"

namespace cutover::protocol {
namespace {

// Small enough that inputs reach the size limit, large enough for every seed message.
constexpr size_t kMaxBody = 1 << 16;
// Types whose bodies the scanner hands over whole; the rest it only steps over.
constexpr std::string_view kCapture = "QPBCDEZTd";

// A trap, not assert(): the fuzz build is RelWithDebInfo, where assert() is compiled out.
void check(bool ok) {
  if (!ok) __builtin_trap();
}

struct Seen {
  char type;
  std::string body;
  friend bool operator==(const Seen&, const Seen&) = default;
};

// decode -> encode must give back the very bytes decoded (the codec is lossless, so the proxy
// may re-encode what it parsed), and decoding those again must give an equal message.
template <typename Decode>
void check_round_trip(char type, std::string_view body, Decode decode) {
  auto first = decode(type, body);
  if (!first) {
    check(first.error().category() == protocol_category());
    return;
  }
  std::string bytes;
  encode(*first, bytes);
  FrameResult f = next_frame(bytes, SIZE_MAX);
  check(f.status == FrameStatus::kFrame && f.consumed == bytes.size());
  check(f.type == type && f.body == body);
  auto second = decode(f.type, f.body);
  check(second.has_value() && *second == *first);
}

// Feeds `chunks` to a scanner and checks it agrees with next_frame on messages and errors.
void check_scanner(const std::vector<std::string_view>& chunks, const std::vector<Seen>& want,
                   ProtocolError want_error, bool ends_at_boundary) {
  FrameScanner scanner(kCapture, kMaxBody);
  std::vector<Seen> got;
  ProtocolError error{};
  for (std::string_view chunk : chunks) {
    error = scanner.feed(chunk, [&got](char type, std::string_view body) {
      got.push_back({type, std::string(body)});
    });
    if (error != ProtocolError{}) break;
  }
  check(got == want);
  check(error == want_error);
  if (error == ProtocolError{}) check(scanner.at_boundary() == ends_at_boundary);
}

void fuzz_one(std::string_view input) {
  std::vector<std::string_view> bodies;
  std::vector<char> types;
  std::vector<Seen> want;
  std::string_view rest = input;
  FrameResult r;
  while ((r = next_frame(rest, kMaxBody)).status == FrameStatus::kFrame) {
    types.push_back(r.type);
    bodies.push_back(r.body);
    bool captured = kCapture.find(r.type) != std::string_view::npos;
    want.push_back({r.type, captured ? std::string(r.body) : std::string()});
    rest.remove_prefix(r.consumed);
  }
  ProtocolError want_error = r.status == FrameStatus::kError ? r.error : ProtocolError{};

  // The same stream as one chunk, cut in two at a point the input picks, and byte by byte.
  size_t cut =
      input.empty() ? 0 : (size_t{static_cast<uint8_t>(input.back())} * input.size()) / 255;
  check_scanner({input}, want, want_error, rest.empty());
  check_scanner({input.substr(0, cut), input.substr(cut)}, want, want_error, rest.empty());
  std::vector<std::string_view> bytes;
  for (size_t i = 0; i < input.size(); ++i) bytes.push_back(input.substr(i, 1));
  check_scanner(bytes, want, want_error, rest.empty());

  for (size_t i = 0; i < bodies.size(); ++i) {
    check_round_trip(types[i], bodies[i],
                     [](char t, std::string_view b) { return decode_frontend(t, b); });
    check_round_trip(types[i], bodies[i],
                     [](char t, std::string_view b) { return decode_backend(t, b); });
  }
}

}  // namespace
}  // namespace cutover::protocol

// NOLINTNEXTLINE(readability-identifier-naming): the name libFuzzer calls
extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  cutover::protocol::fuzz_one(std::string_view(reinterpret_cast<const char*>(data), size));
  return 0;
}
