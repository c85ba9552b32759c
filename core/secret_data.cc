// SecretData implementation: allocation, wiping and constant-time comparison.
#include "core/secret_data.h"

#include <openssl/crypto.h>

#include <cstdlib>
#include <cstring>
#include <new>
#include <utility>

namespace cardvault {
namespace {

uint8_t* AllocateSecret(size_t size) {
  if (size == 0) return nullptr;
  void* p = std::calloc(1, size);
  if (p == nullptr) throw std::bad_alloc();
  return static_cast<uint8_t*>(p);
}

}  // namespace

SecretData::SecretData(size_t size) : data_(AllocateSecret(size)), size_(size), capacity_(size) {}

SecretData::~SecretData() { Release(); }

SecretData::SecretData(SecretData&& other) noexcept
    : data_(std::exchange(other.data_, nullptr)),
      size_(std::exchange(other.size_, 0)),
      capacity_(std::exchange(other.capacity_, 0)) {}

SecretData& SecretData::operator=(SecretData&& other) noexcept {
  if (this != &other) {
    Release();
    data_ = std::exchange(other.data_, nullptr);
    size_ = std::exchange(other.size_, 0);
    capacity_ = std::exchange(other.capacity_, 0);
  }
  return *this;
}

SecretData SecretData::CopyFrom(std::span<const uint8_t> bytes) {
  SecretData out(bytes.size());
  if (!bytes.empty()) std::memcpy(out.data_, bytes.data(), bytes.size());
  return out;
}

SecretData SecretData::CopyFrom(std::string_view text) {
  return CopyFrom(
      std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(text.data()), text.size()));
}

SecretData SecretData::Clone() const { return CopyFrom(span()); }

void SecretData::Truncate(size_t size) {
  if (size >= size_) return;
  OPENSSL_cleanse(data_ + size, size_ - size);
  size_ = size;
}

bool SecretData::Equals(const SecretData& other) const {
  if (size_ != other.size_) return false;
  if (size_ == 0) return true;
  return CRYPTO_memcmp(data_, other.data_, size_) == 0;
}

void SecretData::Release() {
  if (data_ != nullptr) {
    OPENSSL_cleanse(data_, capacity_);
    std::free(data_);
  }
  data_ = nullptr;
  size_ = 0;
  capacity_ = 0;
}

}  // namespace cardvault
