// Test-only CryptoAPI helpers: container names, cleanup and key import.
#define WIN32_LEAN_AND_MEAN
#define NOMINMAX
#include <windows.h>
// clang-format off: wincrypt.h needs windows.h first.
#include <wincrypt.h>
// clang-format on

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <array>
#include <memory>

#include "core/capi/capi_backend.h"
#include "core/capi/capi_status.h"
#include "core/env.h"
#include "tests/core/capi/capi_test_support.h"

namespace cardvault {
namespace {

using PkeyPtr = std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)>;

StatusOr<PkeyPtr> ReadRsaKey(ByteView key) {
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(
      BIO_new_mem_buf(key.data(), static_cast<int>(key.size())), BIO_free);
  EVP_PKEY* pkey = PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr);
  if (pkey == nullptr) {
    const uint8_t* p = key.data();
    pkey = d2i_AutoPrivateKey(nullptr, &p, static_cast<long>(key.size()));
  }
  if (pkey == nullptr) return InvalidArgumentError("not an RSA private key (PEM or DER)");
  PkeyPtr owned(pkey, EVP_PKEY_free);
  if (EVP_PKEY_get_base_id(pkey) != EVP_PKEY_RSA) return InvalidArgumentError("not an RSA key");
  return owned;
}

// The key as PKCS#1 RSAPrivateKey DER, from PEM or DER (PKCS#8 or PKCS#1).
StatusOr<Bytes> Pkcs1Der(ByteView key) {
  CV_ASSIGN_OR_RETURN(PkeyPtr pkey, ReadRsaKey(key));
  unsigned char* der = nullptr;
  const int n = i2d_PrivateKey(pkey.get(), &der);  // RSA: the PKCS#1 RSAPrivateKey
  if (n <= 0) return InternalError("i2d_PrivateKey failed");
  Bytes out(der, der + n);
  OPENSSL_free(der);
  return out;
}

std::wstring Wide(const std::string& text) { return std::wstring(text.begin(), text.end()); }

}  // namespace

CapiProvider TestProvider() { return {MS_ENH_RSA_AES_PROV_A, CapiBackend::kProvRsaAes}; }

StatusOr<Bytes> SpkiOfPrivateKey(ByteView key) {
  CV_ASSIGN_OR_RETURN(PkeyPtr pkey, ReadRsaKey(key));
  unsigned char* der = nullptr;
  const int n = i2d_PUBKEY(pkey.get(), &der);
  if (n <= 0) return InternalError("i2d_PUBKEY failed");
  Bytes out(der, der + n);
  OPENSSL_free(der);
  return out;
}

Status NewEmptyContainer(const CapiProvider& provider, const std::string& name) {
  HCRYPTPROV prov = 0;
  const std::wstring wide_name = Wide(name), wide_provider = Wide(provider.name);
  if (!::CryptAcquireContextW(&prov, wide_name.c_str(), wide_provider.c_str(), provider.type,
                              CRYPT_NEWKEYSET | CRYPT_SILENT)) {
    return CapiErrorToStatus(::GetLastError(), {"CryptAcquireContext", provider.name, name});
  }
  ::CryptReleaseContext(prov, 0);
  return Status::Ok();
}

std::string NewContainerName() {
  std::array<uint8_t, 8> random{};
  Env::Default()->RandomBytes(random).IgnoreError();
  return "cv-test-" + HexEncode(random);
}

Status ImportRsaKey(const CapiProvider& provider, const std::string& name, ByteView key) {
  CV_ASSIGN_OR_RETURN(Bytes pkcs1, Pkcs1Der(key));
  BYTE* blob = nullptr;
  DWORD blob_size = 0;
  if (!::CryptDecodeObjectEx(X509_ASN_ENCODING | PKCS_7_ASN_ENCODING, PKCS_RSA_PRIVATE_KEY,
                             pkcs1.data(), static_cast<DWORD>(pkcs1.size()),
                             CRYPT_DECODE_ALLOC_FLAG, nullptr, &blob, &blob_size)) {
    return CapiErrorToStatus(::GetLastError(), {"CryptDecodeObjectEx", provider.name, name});
  }
  std::unique_ptr<BYTE, decltype(&LocalFree)> blob_owner(blob, LocalFree);
  reinterpret_cast<BLOBHEADER*>(blob)->aiKeyAlg = CALG_RSA_KEYX;  // the key exchange key
  HCRYPTPROV prov = 0;
  const std::wstring wide_name = Wide(name), wide_provider = Wide(provider.name);
  if (!::CryptAcquireContextW(&prov, wide_name.c_str(), wide_provider.c_str(), provider.type,
                              CRYPT_NEWKEYSET | CRYPT_SILENT)) {
    return CapiErrorToStatus(::GetLastError(), {"CryptAcquireContext", provider.name, name});
  }
  HCRYPTKEY imported = 0;
  const bool ok = ::CryptImportKey(prov, blob, blob_size, 0, 0, &imported);
  const DWORD error = ::GetLastError();
  if (ok) ::CryptDestroyKey(imported);
  ::CryptReleaseContext(prov, 0);
  if (!ok) return CapiErrorToStatus(error, {"CryptImportKey", provider.name, name});
  return Status::Ok();
}

ContainerCleanup::~ContainerCleanup() {
  for (const std::string& name : names_) CapiContext::Delete(provider_, name).IgnoreError();
}

std::string ContainerCleanup::Add(std::string name) {
  names_.push_back(std::move(name));
  return names_.back();
}

}  // namespace cardvault
