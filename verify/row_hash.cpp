#include "verify/row_hash.h"

#include <xxhash.h>

namespace cutover::verify {
namespace {

void put_u32(unsigned char* out, uint32_t v) {
  for (int i = 0; i < 4; ++i) out[i] = static_cast<unsigned char>(v >> (24 - 8 * i));
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
  unsigned char prefix[4];
  put_u32(prefix, columns);
  update(prefix, sizeof prefix);
}

void RowHasher::add_column(std::optional<std::string_view> value) {
  unsigned char prefix[4];
  put_u32(prefix, value ? static_cast<uint32_t>(value->size()) : 0xFFFFFFFFu);
  update(prefix, sizeof prefix);
  if (value) update(value->data(), value->size());
}

Digest RowHasher::digest() const {
  XXH128_hash_t h = XXH3_128bits_digest(&state_->xxh);
  return {h.high64, h.low64};
}

}  // namespace cutover::verify
