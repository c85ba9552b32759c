// Crypto primitives over OpenSSL 3 used by the format and the recipients: SHA-256,
// HMAC-SHA-256, HKDF-SHA-256, AES-256 key wrap (RFC 3394) and key identifiers.
#ifndef CARDVAULT_CORE_CRYPTO_H_
#define CARDVAULT_CORE_CRYPTO_H_

#include <array>
#include <limits>
#include <string>
#include <string_view>

#include "core/bytes.h"
#include "core/env.h"
#include "core/secret_data.h"
#include "core/status_or.h"

namespace cardvault {

using Sha256Digest = std::array<uint8_t, 32>;

Sha256Digest Sha256(ByteView data);

// Incremental SHA-256. Not thread-safe; move-only.
class Sha256Hasher {
 public:
  Sha256Hasher();
  ~Sha256Hasher();
  Sha256Hasher(Sha256Hasher&&) noexcept;
  Sha256Hasher& operator=(Sha256Hasher&&) noexcept;
  Sha256Hasher(const Sha256Hasher&) = delete;
  Sha256Hasher& operator=(const Sha256Hasher&) = delete;

  void Update(ByteView data);
  Sha256Digest Finish();

 private:
  struct Impl;
  Impl* impl_;
};

// The SHA-256 of what `file` yields from its position on, at most `limit` bytes; `*hashed`
// (when given) receives how many bytes that was.
StatusOr<Sha256Digest> Sha256OfStream(SequentialFile& file, uint64_t* hashed = nullptr,
                                      uint64_t limit = std::numeric_limits<uint64_t>::max());
// The SHA-256 of the file at `path`; `*size` (when given) receives its length.
StatusOr<Sha256Digest> Sha256OfPath(Env& env, const std::string& path, uint64_t* size = nullptr);

Sha256Digest HmacSha256(ByteView key, ByteView data);

// HKDF-SHA-256 (RFC 5869): Extract with `salt`, then Expand with `info` to `length` bytes.
StatusOr<SecretData> HkdfSha256(ByteView ikm, ByteView salt, std::string_view info,
                                size_t length = 32);

// AES-256 key wrap (RFC 3394) of a key whose length is a multiple of 8 (>= 16).
StatusOr<Bytes> AesKeyWrap(const SecretData& kek, const SecretData& key);
// Inverse of AesKeyWrap. kCorrupt ("key_unwrap_failed") if the integrity check fails.
StatusOr<SecretData> AesKeyUnwrap(const SecretData& kek, ByteView wrapped);

// The key identifier used in stanzas: the first 8 bytes of SHA-256(DER SubjectPublicKeyInfo).
inline constexpr size_t kKeyIdSize = 8;
Bytes KeyIdFromSpki(ByteView spki_der);

// Random bytes from OpenSSL's DRBG.
StatusOr<SecretData> RandomSecret(size_t size);

}  // namespace cardvault

#endif  // CARDVAULT_CORE_CRYPTO_H_
