#include "verify/row_hash.h"

#include <xxhash.h>

#include <array>
#include <cstdio>

namespace cutover::verify {
namespace {

std::array<unsigned char, 4> big_endian(uint32_t v) {
  return {static_cast<unsigned char>(v >> 24), static_cast<unsigned char>(v >> 16),
          static_cast<unsigned char>(v >> 8), static_cast<unsigned char>(v)};
}

}  // namespace

struct RowHasher::State {
  XXH3_state_t xxh;
};

RowHasher::RowHasher() : state_(std::make_unique<State>()) { XXH3_128bits_reset(&state_->xxh); }

RowHasher::~RowHasher() = default;

void RowHasher::update(const void* data, size_t size) {
  XXH3_128bits_update(&state_->xxh, data, size);
}

void RowHasher::begin_row(uint32_t columns) {
  auto prefix = big_endian(columns);
  update(prefix.data(), prefix.size());
}

void RowHasher::add_column(std::optional<std::string_view> value) {
  auto prefix = big_endian(value ? static_cast<uint32_t>(value->size()) : 0xFFFFFFFFu);
  update(prefix.data(), prefix.size());
  if (value) update(value->data(), value->size());
}

bool RowSetHasher::add_data_row(std::string_view body) {
  auto take = [&body](size_t n) -> std::optional<uint32_t> {
    if (body.size() < n) return std::nullopt;
    uint32_t v = 0;
    for (size_t i = 0; i < n; ++i) v = (v << 8) | static_cast<unsigned char>(body[i]);
    body.remove_prefix(n);
    return v;
  };
  auto columns = take(2);
  if (!columns) return false;
  encoded_.clear();
  auto append = [this](uint32_t v) {
    for (unsigned char byte : big_endian(v)) encoded_.push_back(static_cast<char>(byte));
  };
  append(*columns);
  for (uint32_t i = 0; i < *columns; ++i) {
    auto length = take(4);
    if (!length) return false;
    append(*length);
    if (*length == 0xFFFFFFFFu) continue;  // NULL
    if (body.size() < *length) return false;
    encoded_.append(body.substr(0, *length));
    body.remove_prefix(*length);
  }
  if (!body.empty()) return false;
  add_to_set(sum_, encoded_);
  ++rows_;
  return true;
}

void add_to_set(Digest& sum, std::string_view bytes) {
  const XXH128_hash_t h = XXH3_128bits(bytes.data(), bytes.size());
  const uint64_t low = sum.low + h.low64;
  sum.high += h.high64 + static_cast<uint64_t>(low < sum.low);  // carry
  sum.low = low;
}

std::string to_hex(const Digest& digest) {
  char text[33];
  std::snprintf(text, sizeof text, "%016llx%016llx", static_cast<unsigned long long>(digest.high),
                static_cast<unsigned long long>(digest.low));
  return text;
}

Digest RowHasher::digest() const {
  XXH128_hash_t h = XXH3_128bits_digest(&state_->xxh);
  return {h.high64, h.low64};
}

}  // namespace cutover::verify
