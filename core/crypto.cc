// Crypto primitives implementation over OpenSSL 3's EVP interfaces.
#include "core/crypto.h"

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <initializer_list>
#include <memory>
#include <utility>
#include <vector>

#include "core/evp_algorithms.h"

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
  EVP_DigestInit_ex(impl_->ctx, Sha256Md(), nullptr);
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
  EVP_DigestInit_ex(impl_->ctx, Sha256Md(), nullptr);
  return out;
}

StatusOr<Sha256Digest> Sha256OfStream(SequentialFile& file, uint64_t* hashed, uint64_t limit) {
  Sha256Hasher hasher;
  // Below malloc's mmap threshold: reused, not mapped, so hashing many small files is cheap.
  std::vector<uint8_t> buf(64 * 1024);
  uint64_t total = 0;
  while (total < limit) {
    const size_t want = static_cast<size_t>(std::min<uint64_t>(buf.size(), limit - total));
    CV_ASSIGN_OR_RETURN(size_t n, file.Read(std::span(buf.data(), want)));
    if (n == 0) break;
    hasher.Update({buf.data(), n});
    total += n;
  }
  if (hashed != nullptr) *hashed = total;
  return hasher.Finish();
}

StatusOr<Sha256Digest> Sha256OfPath(Env& env, const std::string& path, uint64_t* size) {
  CV_ASSIGN_OR_RETURN(auto file, env.NewSequentialFile(path));
  return Sha256OfStream(*file, size);
}

namespace {

using MacCtxPtr = std::unique_ptr<EVP_MAC_CTX, decltype(&EVP_MAC_CTX_free)>;

// HMAC-SHA-256 over the concatenation of `parts`, into `out` (32 bytes). The key is copied
// into OpenSSL's context and wiped with it.
bool Hmac(ByteView key, std::initializer_list<ByteView> parts, uint8_t* out) {
  const EVP_MAC_CTX* tmpl = HmacSha256Template();
  if (tmpl == nullptr) return false;
  MacCtxPtr ctx(EVP_MAC_CTX_dup(tmpl), EVP_MAC_CTX_free);
  // An empty key is legal for HMAC (RFC 2104 pads it with zeros); OpenSSL wants a pointer.
  static const uint8_t kEmpty[1] = {0};
  if (!ctx ||
      EVP_MAC_init(ctx.get(), key.empty() ? kEmpty : key.data(), key.size(), nullptr) != 1) {
    return false;
  }
  for (ByteView part : parts) {
    if (!part.empty() && EVP_MAC_update(ctx.get(), part.data(), part.size()) != 1) return false;
  }
  size_t len = 0;
  return EVP_MAC_final(ctx.get(), out, &len, 32) == 1 && len == 32;
}

}  // namespace

Sha256Digest HmacSha256(ByteView key, ByteView data) {
  Sha256Digest out{};
  if (!Hmac(key, {data}, out.data())) std::abort();  // only if OpenSSL lacks HMAC-SHA-256
  return out;
}

StatusOr<SecretData> HkdfSha256(ByteView ikm, ByteView salt, std::string_view info, size_t length) {
  // RFC 5869 with HMAC-SHA-256: Extract (PRK = HMAC(salt, IKM); an empty salt acts as 32
  // zero bytes, which HMAC's key padding does by itself), then Expand.
  if (length == 0 || length > 255 * 32) return InvalidArgumentError("bad HKDF output length");
  SecretData prk(32);
  if (!Hmac(salt, {ikm}, prk.data())) return InternalError("HKDF-SHA-256 failed in OpenSSL");
  SecretData out(length);
  SecretData block(32);
  const ByteView info_bytes(reinterpret_cast<const uint8_t*>(info.data()), info.size());
  size_t done = 0;
  for (uint8_t counter = 1; done < length; ++counter) {
    const ByteView previous = counter == 1 ? ByteView() : ByteView(block.data(), 32);
    if (!Hmac(prk.span(), {previous, info_bytes, ByteView(&counter, 1)}, block.data())) {
      return InternalError("HKDF-SHA-256 failed in OpenSSL");
    }
    const size_t n = std::min<size_t>(32, length - done);
    std::memcpy(out.data() + done, block.data(), n);
    done += n;
  }
  return out;
}

namespace {

StatusOr<size_t> RunKeyWrap(bool wrap, const SecretData& kek, ByteView in, uint8_t* out) {
  if (kek.size() != 32) return InvalidArgumentError("AES-256 key wrap needs a 32-byte key");
  std::unique_ptr<EVP_CIPHER_CTX, decltype(&EVP_CIPHER_CTX_free)> ctx(EVP_CIPHER_CTX_new(),
                                                                      EVP_CIPHER_CTX_free);
  int len = 0, fin = 0;
  if (!ctx || EVP_CipherInit_ex(ctx.get(), Aes256WrapCipher(), nullptr, kek.data(), nullptr,
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
