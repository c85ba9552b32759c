// CapiContext: one CryptoAPI provider context (HCRYPTPROV) on one key container, and the
// calls cardvault makes on it. Windows only (core/capi/); free of <windows.h>.
#ifndef CARDVAULT_CORE_CAPI_CAPI_CONTEXT_H_
#define CARDVAULT_CORE_CAPI_CAPI_CONTEXT_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/bytes.h"
#include "core/card/card_public_key.h"
#include "core/secret_data.h"
#include "core/status_or.h"

namespace cardvault {

// A provider by name and type (PROV_RSA_FULL = 1, PROV_RSA_AES = 24).
struct CapiProvider {
  std::string name;
  uint32_t type = 1;
};

// How CryptAcquireContext is called.
enum class CapiOpenMode {
  kSilent,        // the container, CRYPT_SILENT: never a dialog (fails NTE_SILENT_CONTEXT instead)
  kInteractive,   // the container, no flags: the provider may show its PIN dialog
  kEnumerate,     // no container, CRYPT_VERIFYCONTEXT | CRYPT_SILENT: listing only
  kCreateSilent,  // CRYPT_NEWKEYSET | CRYPT_SILENT
  kCreateInteractive,  // CRYPT_NEWKEYSET
};

// Contract: every failure is a Status from CapiErrorToStatus (core/capi/capi_status.h) naming
// the call, the provider and the container; `last_error()` keeps the raw code of the last
// failure (to tell NTE_BAD_KEYSET from other card_absent causes). Not thread-safe.
class CapiContext {
 public:
  // CryptAcquireContextW(container, provider, type, flags of `mode`). `container` MUST be
  // empty for kEnumerate and non-empty otherwise. `*error` (if given) receives the raw code.
  static StatusOr<std::unique_ptr<CapiContext>> Open(const CapiProvider& provider,
                                                     const std::string& container,
                                                     CapiOpenMode mode, uint32_t* error = nullptr);
  // CRYPT_DELETEKEYSET (silent): removes the container and its keys.
  static Status Delete(const CapiProvider& provider, const std::string& container);
  // Whether `provider` is registered with that type (CryptEnumProvidersW; no card touched).
  static bool IsInstalled(const CapiProvider& provider);
  ~CapiContext();
  CapiContext(const CapiContext&) = delete;
  CapiContext& operator=(const CapiContext&) = delete;

  const std::string& container() const { return container_; }
  uint32_t last_error() const { return last_error_; }

  // The key containers the provider shows (PP_ENUMCONTAINERS, CRYPT_FIRST then CRYPT_NEXT),
  // sorted; at most 4096.
  StatusOr<std::vector<std::string>> ListContainers();
  // The container's AT_KEYEXCHANGE public key, exported as a PUBLICKEYBLOB (no PIN).
  // NTE_NO_KEY is no_key_on_card; a key of another type or size is kUnsupported.
  StatusOr<CardPublicKey> ExchangePublicKey();
  // CryptGenKey(AT_KEYEXCHANGE, RSA of `bits` bits in the high word), NOT exportable.
  Status GenerateExchangeKey(int bits);
  // CryptSetProvParam(PP_KEYEXCHANGE_PIN): the PIN for the next private-key operations.
  // False when the provider takes no PIN this way (NTE_BAD_TYPE, NTE_NOT_SUPPORTED, or no error
  // code at all, as Wine's software providers answer): it then asks itself, if it must.
  StatusOr<bool> SetKeyExchangePin(const SecretData& pin);
  // CryptDecrypt(CRYPT_OAEP) with the AT_KEYEXCHANGE key of a big-endian (OpenSSL, PKCS#11)
  // ciphertext, reversed here to CryptoAPI's little-endian order.
  StatusOr<SecretData> DecryptOaep(ByteView big_endian_ciphertext);

 private:
  CapiContext(CapiProvider provider, std::string container, uintptr_t handle)
      : provider_(std::move(provider)), container_(std::move(container)), handle_(handle) {}
  StatusOr<uintptr_t> UserKey();
  Status Failure(const char* operation);  // from GetLastError(), noted in last_error_

  CapiProvider provider_;
  std::string container_;
  uintptr_t handle_ = 0;    // HCRYPTPROV
  uintptr_t user_key_ = 0;  // HCRYPTKEY of AT_KEYEXCHANGE, 0 until UserKey()
  uint32_t last_error_ = 0;
};

// A PUBLICKEYBLOB (BLOBHEADER, RSAPUBKEY, little-endian modulus) as a CardPublicKey: the same
// DER SubjectPublicKeyInfo, key id and recipient as OpenSSL or PKCS#11 give the key.
StatusOr<CardPublicKey> PublicKeyFromBlob(ByteView blob);

}  // namespace cardvault

#endif  // CARDVAULT_CORE_CAPI_CAPI_CONTEXT_H_
