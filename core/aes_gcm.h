// AesGcm: AES-256-GCM with 12-byte nonces and 16-byte tags over one reusable OpenSSL
// context, the AEAD under the metadata section and every payload chunk.
#ifndef CARDVAULT_CORE_AES_GCM_H_
#define CARDVAULT_CORE_AES_GCM_H_

#include <array>
#include <memory>

#include "core/bytes.h"
#include "core/secret_data.h"
#include "core/status_or.h"

namespace cardvault {

// Security property: IND-CCA2 and ciphertext integrity as long as a (key, nonce) pair is
// never used twice; callers MUST guarantee nonce uniqueness per key. Not thread-safe.
class AesGcm {
 public:
  static constexpr size_t kKeySize = 32;
  static constexpr size_t kNonceSize = 12;
  static constexpr size_t kTagSize = 16;

  // `key` MUST be 32 bytes. The key schedule is kept inside OpenSSL's context (wiped on
  // destruction by EVP_CIPHER_CTX_free).
  static StatusOr<AesGcm> New(const SecretData& key);

  AesGcm(AesGcm&&) noexcept;
  AesGcm& operator=(AesGcm&&) noexcept;
  ~AesGcm();

  // Writes plaintext.size() + 16 bytes to `out` (ciphertext then tag). `out` may alias
  // `plaintext` exactly (in-place) but MUST NOT overlap it otherwise.
  Status Seal(const std::array<uint8_t, kNonceSize>& nonce, ByteView aad, ByteView plaintext,
              uint8_t* out);
  // Verifies and decrypts `sealed` (ciphertext then tag) into `out` (sealed.size() - 16
  // bytes). On failure returns kCorrupt (reason "aead_auth_failed") and `out` MUST be
  // treated as garbage. Same aliasing rule as Seal.
  Status Open(const std::array<uint8_t, kNonceSize>& nonce, ByteView aad, ByteView sealed,
              uint8_t* out);

 private:
  struct Ctx;
  explicit AesGcm(std::unique_ptr<Ctx> ctx);
  std::unique_ptr<Ctx> ctx_;
};

}  // namespace cardvault

#endif  // CARDVAULT_CORE_AES_GCM_H_
