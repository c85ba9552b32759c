// Xxh128Hasher: streaming XXH3-128 (seed 0), the appended transfer check of uploads.
#ifndef CARDVAULT_API_XXH128_H_
#define CARDVAULT_API_XXH128_H_

#include <array>
#include <cstdint>

#include "core/bytes.h"
#include "storage/object_id.h"

struct XXH3_state_s;  // libxxhash's streaming state (xxhash.h)

namespace cardvault {

// The canonical (big-endian, XXH128_canonicalFromHash) form of an XXH3-128 digest.
using Xxh128Digest = std::array<uint8_t, kAppendedXxh128Bytes>;

// Not a cryptographic hash: it detects accidental corruption only (docs/server.md).
class Xxh128Hasher {
 public:
  Xxh128Hasher();
  ~Xxh128Hasher();
  Xxh128Hasher(const Xxh128Hasher&) = delete;
  Xxh128Hasher& operator=(const Xxh128Hasher&) = delete;

  void Update(ByteView data);
  // The digest of everything given so far; Update may continue afterwards.
  Xxh128Digest Finish() const;

 private:
  XXH3_state_s* state_;
};

// The XXH3-128 of `data` in canonical form.
Xxh128Digest Xxh128(ByteView data);

}  // namespace cardvault

#endif  // CARDVAULT_API_XXH128_H_
