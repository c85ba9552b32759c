// Xxh128Hasher implementation over libxxhash's XXH3 streaming state.
#include "api/xxh128.h"

#include <xxhash.h>
#if defined(CARDVAULT_XXHASH_DISPATCH) && (defined(__x86_64__) || defined(__i386__))
// libxxhash's runtime-dispatched update (AVX-512, AVX2 or SSE2, whichever the CPU has)
// under the same names; otherwise (elsewhere, or without libxxhash's dispatcher, as in the
// Windows build) the build's baseline vector unit (SSE2) is used.
#include <xxh_x86dispatch.h>
#endif

#include <cstring>
#include <new>

namespace cardvault {

static_assert(sizeof(XXH128_canonical_t) == kAppendedXxh128Bytes);

Xxh128Hasher::Xxh128Hasher() : state_(XXH3_createState()) {
  if (state_ == nullptr) throw std::bad_alloc();
  XXH3_128bits_reset(state_);
}

Xxh128Hasher::~Xxh128Hasher() { XXH3_freeState(state_); }

void Xxh128Hasher::Update(ByteView data) {
  if (!data.empty()) XXH3_128bits_update(state_, data.data(), data.size());
}

Xxh128Digest Xxh128Hasher::Finish() const {
  XXH128_canonical_t canonical;
  XXH128_canonicalFromHash(&canonical, XXH3_128bits_digest(state_));
  Xxh128Digest digest;
  std::memcpy(digest.data(), canonical.digest, digest.size());
  return digest;
}

Xxh128Digest Xxh128(ByteView data) {
  Xxh128Hasher hasher;
  hasher.Update(data);
  return hasher.Finish();
}

}  // namespace cardvault
