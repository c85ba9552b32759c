// AesGcm implementation over OpenSSL's EVP AES-256-GCM (AES-NI/VAES when available).
#include "core/aes_gcm.h"

#include <openssl/evp.h>

#include "core/evp_algorithms.h"

namespace cardvault {

struct AesGcm::Ctx {
  EVP_CIPHER_CTX* enc = EVP_CIPHER_CTX_new();
  EVP_CIPHER_CTX* dec = EVP_CIPHER_CTX_new();
  ~Ctx() {
    EVP_CIPHER_CTX_free(enc);
    EVP_CIPHER_CTX_free(dec);
  }
};

AesGcm::AesGcm(std::unique_ptr<Ctx> ctx) : ctx_(std::move(ctx)) {}
AesGcm::AesGcm(AesGcm&&) noexcept = default;
AesGcm& AesGcm::operator=(AesGcm&&) noexcept = default;
AesGcm::~AesGcm() = default;

StatusOr<AesGcm> AesGcm::New(const SecretData& key) {
  if (key.size() != kKeySize) return InvalidArgumentError("AES-256-GCM needs a 32-byte key");
  auto ctx = std::make_unique<Ctx>();
  if (ctx->enc == nullptr || ctx->dec == nullptr ||
      EVP_EncryptInit_ex(ctx->enc, Aes256GcmCipher(), nullptr, key.data(), nullptr) != 1 ||
      EVP_DecryptInit_ex(ctx->dec, Aes256GcmCipher(), nullptr, key.data(), nullptr) != 1) {
    return InternalError("AES-256-GCM initialisation failed in OpenSSL");
  }
  return AesGcm(std::move(ctx));
}

Status AesGcm::Seal(const std::array<uint8_t, kNonceSize>& nonce, ByteView aad, ByteView plaintext,
                    uint8_t* out) {
  EVP_CIPHER_CTX* c = ctx_->enc;
  int len = 0;
  if (EVP_EncryptInit_ex(c, nullptr, nullptr, nullptr, nonce.data()) != 1) {
    return InternalError("AES-GCM nonce setup failed");
  }
  if (!aad.empty() &&
      EVP_EncryptUpdate(c, nullptr, &len, aad.data(), static_cast<int>(aad.size())) != 1) {
    return InternalError("AES-GCM AAD failed");
  }
  int total = 0;
  if (!plaintext.empty()) {
    if (EVP_EncryptUpdate(c, out, &len, plaintext.data(), static_cast<int>(plaintext.size())) !=
        1) {
      return InternalError("AES-GCM encryption failed");
    }
    total = len;
  }
  if (EVP_EncryptFinal_ex(c, out + total, &len) != 1 ||
      EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, kTagSize, out + plaintext.size()) != 1) {
    return InternalError("AES-GCM finalisation failed");
  }
  return Status::Ok();
}

Status AesGcm::Open(const std::array<uint8_t, kNonceSize>& nonce, ByteView aad, ByteView sealed,
                    uint8_t* out) {
  if (sealed.size() < kTagSize) {
    return CorruptError("sealed data shorter than its tag", "aead_auth_failed");
  }
  EVP_CIPHER_CTX* c = ctx_->dec;
  size_t ct_len = sealed.size() - kTagSize;
  int len = 0;
  if (EVP_DecryptInit_ex(c, nullptr, nullptr, nullptr, nonce.data()) != 1) {
    return InternalError("AES-GCM nonce setup failed");
  }
  if (!aad.empty() &&
      EVP_DecryptUpdate(c, nullptr, &len, aad.data(), static_cast<int>(aad.size())) != 1) {
    return InternalError("AES-GCM AAD failed");
  }
  int total = 0;
  if (ct_len > 0) {
    if (EVP_DecryptUpdate(c, out, &len, sealed.data(), static_cast<int>(ct_len)) != 1) {
      return InternalError("AES-GCM decryption failed");
    }
    total = len;
  }
  // The tag is copied out first: with in-place decryption it must not be read after the
  // plaintext overwrote the buffer (it sits after the ciphertext, so it is not, but the copy
  // keeps OpenSSL's const-incorrect ctrl call away from caller memory).
  uint8_t tag[kTagSize];
  std::copy(sealed.end() - kTagSize, sealed.end(), tag);
  if (EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_TAG, kTagSize, tag) != 1) {
    return InternalError("AES-GCM tag setup failed");
  }
  if (EVP_DecryptFinal_ex(c, out + total, &len) != 1) {
    return CorruptError("authentication failed", "aead_auth_failed");
  }
  return Status::Ok();
}

}  // namespace cardvault
