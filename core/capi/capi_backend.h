// CapiBackend: the CardBackend of Windows, over CryptoAPI key containers (the "Microsoft Base
// Smart Card Crypto Provider" for smart cards). Windows only (core/capi/); free of <windows.h>.
#ifndef CARDVAULT_CORE_CAPI_CAPI_BACKEND_H_
#define CARDVAULT_CORE_CAPI_CAPI_BACKEND_H_

#include <cstdint>
#include <memory>
#include <string>

#include "core/capi/capi_context.h"
#include "core/card/card_backend.h"

namespace cardvault {

// Implements CardBackend (core/card/card_backend.h) with CryptoAPI (docs/windows.md):
// - A key container is a card: its name is the card's label and the key's label, and its one
//   key is the AT_KEYEXCHANGE RSA key. RSA only: P-256 needs CNG's Smart Card Key Storage
//   Provider (CreateKey: kUnsupported "mechanism_unsupported").
// - Every container is opened with CRYPT_SILENT first; a missing one (NTE_BAD_KEYSET) is
//   reported ("no key container"), never created, except by CreateKey (CRYPT_NEWKEYSET, then
//   CryptGenKey, not exportable; an existing empty container gets the key, one holding a key
//   is refused: key_exists).
// - List enumerates PP_ENUMCONTAINERS with a silent CRYPT_VERIFYCONTEXT context and exports
//   each public key (PUBLICKEYBLOB -> DER SubjectPublicKeyInfo), so key ids and `cv-p11-...`
//   recipients equal the ones PKCS#11 on Linux shows for the same key. No PIN, no dialog.
// - The PIN state is not known to CryptoAPI (CardPinState::known is false).
// Thread-compatible; the identities it opens are thread-safe.
class CapiBackend : public CardBackend {
 public:
  static constexpr char kDefaultProvider[] = "Microsoft Base Smart Card Crypto Provider";
  static constexpr uint32_t kProvRsaFull = 1;  // PROV_RSA_FULL (the smart card CSP's type)
  static constexpr uint32_t kProvRsaAes = 24;  // PROV_RSA_AES (MS_ENH_RSA_AES_PROV, tests)

  // kNotFound "module_missing" if no provider of that name and type is installed
  // (checked without touching a card).
  static StatusOr<std::unique_ptr<CapiBackend>> New(std::string provider = kDefaultProvider,
                                                    uint32_t provider_type = kProvRsaFull);

  std::string Describe() const override;
  StatusOr<CardListing> List() override;
  StatusOr<NewCardKey> CreateKey(const NewCardKeyRequest& request) override;
  StatusOr<std::unique_ptr<CardIdentity>> OpenIdentity(CardIdentityRequest request) override;

 private:
  explicit CapiBackend(CapiProvider provider) : provider_(std::move(provider)) {}
  // A listing entry for container `name` (opened silently, public key only).
  CardInfo DescribeContainer(const std::string& name) const;
  // The container `name` to generate a key in: a new one (CRYPT_NEWKEYSET) or an existing
  // empty one; key_exists if it holds a key.
  StatusOr<std::unique_ptr<CapiContext>> OpenForNewKey(const std::string& name,
                                                       const NewCardKeyRequest& request) const;

  const CapiProvider provider_;
};

}  // namespace cardvault

#endif  // CARDVAULT_CORE_CAPI_CAPI_BACKEND_H_
