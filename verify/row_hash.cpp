#include "verify/row_hash.h"

#include <xxhash.h>

#include <array>

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

Digest RowHasher::digest() const {
  XXH128_hash_t h = XXH3_128bits_digest(&state_->xxh);
  return {h.high64, h.low64};
}

}  // namespace cutover::verify
