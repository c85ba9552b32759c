// SecretData: a byte buffer for key material and PINs that is wiped when released.
#ifndef CARDVAULT_CORE_SECRET_DATA_H_
#define CARDVAULT_CORE_SECRET_DATA_H_

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

namespace cardvault {

// Owns a heap buffer that is wiped with OPENSSL_cleanse when destroyed, moved from or
// resized, so session keys and PINs never linger in freed memory. Move-only: a copy must
// be asked for with Clone(), so key material is never duplicated by accident. Not yet done:
// keeping the buffer out of core dumps and swap (MADV_DONTDUMP, mlock); OpenSSL's secure
// heap does both, but pointers kept inside it are invisible to LeakSanitizer.
//
// Never log, print or write a SecretData to disk unencrypted.
class SecretData {
 public:
  SecretData() = default;
  // A zero-filled buffer of `size` bytes.
  explicit SecretData(size_t size);
  ~SecretData();

  SecretData(SecretData&& other) noexcept;
  SecretData& operator=(SecretData&& other) noexcept;
  SecretData(const SecretData&) = delete;
  SecretData& operator=(const SecretData&) = delete;

  static SecretData CopyFrom(std::span<const uint8_t> bytes);
  static SecretData CopyFrom(std::string_view text);
  SecretData Clone() const;

  uint8_t* data() { return data_; }
  const uint8_t* data() const { return data_; }
  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  std::span<const uint8_t> span() const { return {data_, size_}; }
  std::span<uint8_t> mutable_span() { return {data_, size_}; }
  std::string_view AsStringView() const { return {reinterpret_cast<const char*>(data_), size_}; }

  // Shrinks the visible size to `size` (<= size()) and wipes the bytes cut off.
  void Truncate(size_t size);

  // Constant-time comparison (the lengths are not secret).
  bool Equals(const SecretData& other) const;

 private:
  void Release();

  uint8_t* data_ = nullptr;
  size_t size_ = 0;
  size_t capacity_ = 0;
};

}  // namespace cardvault

#endif  // CARDVAULT_CORE_SECRET_DATA_H_
