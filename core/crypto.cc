// Crypto primitives implementation over OpenSSL 3's EVP interfaces.
#include "core/crypto.h"

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/kdf.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include <memory>
#include <utility>

namespace cardvault {

Sha256Digest Sha256(ByteView data) {
  Sha256Digest out;
  ::SHA256(data.data(), data.size(), out.data());
  return out;
}

struct Sha256Hasher::Impl {
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  ~Impl() { EVP_MD_CTX_free(ctx); }
};

Sha256Hasher::Sha256Hasher() : impl_(new Impl) {
  EVP_DigestInit_ex(impl_->ctx, EVP_sha256(), nullptr);
}
Sha256Hasher::~Sha256Hasher() { delete impl_; }
Sha256Hasher::Sha256Hasher(Sha256Hasher&& other) noexcept
    : impl_(std::exchange(other.impl_, nullptr)) {}
Sha256Hasher& Sha256Hasher::operator=(Sha256Hasher&& other) noexcept {
  if (this != &other) {
    delete impl_;
    impl_ = std::exchange(other.impl_, nullptr);
  }
  return *this;
}

void Sha256Hasher::Update(ByteView data) { EVP_DigestUpdate(impl_->ctx, data.data(), data.size()); }

Sha256Digest Sha256Hasher::Finish() {
  Sha256Digest out;
  unsigned int len = 0;
  EVP_DigestFinal_ex(impl_->ctx, out.data(), &len);
  EVP_DigestInit_ex(impl_->ctx, EVP_sha256(), nullptr);
  return out;
}

Sha256Digest HmacSha256(ByteView key, ByteView data) {
  Sha256Digest out;
  unsigned int len = 0;
  ::HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()), data.data(), data.size(),
         out.data(), &len);
  return out;
}

StatusOr<SecretData> HkdfSha256(ByteView ikm, ByteView salt, std::string_view info, size_t length) {
  std::unique_ptr<EVP_PKEY_CTX, decltype(&EVP_PKEY_CTX_free)> ctx(
      EVP_PKEY_CTX_new_id(EVP_PKEY_HKDF, nullptr), EVP_PKEY_CTX_free);
  SecretData out(length);
  size_t out_len = length;
  // OpenSSL rejects a null salt pointer for an empty salt; RFC 5869 treats an empty salt as
  // HashLen zero bytes, which is what HKDF-Extract does with a zero-length key anyway.
  static const uint8_t kEmpty[1] = {0};
  if (!ctx || EVP_PKEY_derive_init(ctx.get()) <= 0 ||
      EVP_PKEY_CTX_set_hkdf_md(ctx.get(), EVP_sha256()) <= 0 ||
      EVP_PKEY_CTX_set1_hkdf_key(ctx.get(), ikm.empty() ? kEmpty : ikm.data(),
                                 static_cast<int>(ikm.size())) <= 0 ||
      EVP_PKEY_CTX_set1_hkdf_salt(ctx.get(), salt.empty() ? kEmpty : salt.data(),
                                  static_cast<int>(salt.size())) <= 0 ||
      EVP_PKEY_CTX_add1_hkdf_info(ctx.get(), reinterpret_cast<const uint8_t*>(info.data()),
                                  static_cast<int>(info.size())) <= 0 ||
      EVP_PKEY_derive(ctx.get(), out.data(), &out_len) <= 0 || out_len != length) {
    return InternalError("HKDF-SHA-256 failed in OpenSSL");
  }
  return out;
}

namespace {

StatusOr<size_t> RunKeyWrap(bool wrap, const SecretData& kek, ByteView in, uint8_t* out) {
  if (kek.size() != 32) return InvalidArgumentError("AES-256 key wrap needs a 32-byte key");
  std::unique_ptr<EVP_CIPHER_CTX, decltype(&EVP_CIPHER_CTX_free)> ctx(EVP_CIPHER_CTX_new(),
                                                                      EVP_CIPHER_CTX_free);
  int len = 0, fin = 0;
  if (!ctx || EVP_CipherInit_ex(ctx.get(), EVP_aes_256_wrap(), nullptr, kek.data(), nullptr,
                                wrap ? 1 : 0) != 1) {
    return InternalError("AES key wrap init failed");
  }
  if (EVP_CipherUpdate(ctx.get(), out, &len, in.data(), static_cast<int>(in.size())) != 1 ||
      EVP_CipherFinal_ex(ctx.get(), out + len, &fin) != 1) {
    if (wrap) return InternalError("AES key wrap failed");
    return CorruptError("the wrapped key failed its integrity check", "key_unwrap_failed");
  }
  return static_cast<size_t>(len + fin);
}

}  // namespace

StatusOr<Bytes> AesKeyWrap(const SecretData& kek, const SecretData& key) {
  if (key.size() < 16 || key.size() % 8 != 0) {
    return InvalidArgumentError("key wrap input must be a multiple of 8 bytes, at least 16");
  }
  Bytes out(key.size() + 8);
  CV_ASSIGN_OR_RETURN(size_t n, RunKeyWrap(true, kek, key.span(), out.data()));
  out.resize(n);
  return out;
}

StatusOr<SecretData> AesKeyUnwrap(const SecretData& kek, ByteView wrapped) {
  if (wrapped.size() < 24 || wrapped.size() % 8 != 0) {
    return CorruptError("a wrapped key must be a multiple of 8 bytes, at least 24",
                        "key_unwrap_failed");
  }
  SecretData out(wrapped.size());
  CV_ASSIGN_OR_RETURN(size_t n, RunKeyWrap(false, kek, wrapped, out.data()));
  out.Truncate(n);
  return out;
}

Bytes KeyIdFromSpki(ByteView spki_der) {
  Sha256Digest d = Sha256(spki_der);
  return Bytes(d.begin(), d.begin() + kKeyIdSize);
}

StatusOr<SecretData> RandomSecret(size_t size) {
  SecretData out(size);
  if (size > 0 && RAND_bytes(out.data(), static_cast<int>(size)) != 1) {
    return InternalError("the random number generator failed");
  }
  return out;
}

}  // namespace cardvault
