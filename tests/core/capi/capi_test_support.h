// What the CryptoAPI tests share: Wine's software provider in place of a smart card CSP, a
// fresh key container per test (removed afterwards) and the import of a known RSA key.
#ifndef CARDVAULT_TESTS_CORE_CAPI_CAPI_TEST_SUPPORT_H_
#define CARDVAULT_TESTS_CORE_CAPI_CAPI_TEST_SUPPORT_H_

#include <string>
#include <vector>

#include "core/bytes.h"
#include "core/capi/capi_context.h"
#include "core/status_or.h"

namespace cardvault {

// MS_ENH_RSA_AES_PROV (PROV_RSA_AES): Wine has no smart card provider (docs/windows.md).
CapiProvider TestProvider();

// A unique container name ("cv-test-" + random hex), so tests never see each other's keys.
std::string NewContainerName();

// Imports an RSA private key (PEM or DER, PKCS#8 or PKCS#1) into a NEW container `name` as its
// AT_KEYEXCHANGE key, not exportable: CryptDecodeObjectEx(PKCS_RSA_PRIVATE_KEY) ->
// PRIVATEKEYBLOB -> CryptImportKey. Test only: product code never imports keys.
Status ImportRsaKey(const CapiProvider& provider, const std::string& name, ByteView key);

// The DER SubjectPublicKeyInfo of an RSA private key (PEM or DER), computed by OpenSSL.
StatusOr<Bytes> SpkiOfPrivateKey(ByteView key);

// Makes a NEW container `name` holding no key (CRYPT_NEWKEYSET alone).
Status NewEmptyContainer(const CapiProvider& provider, const std::string& name);

// Deletes the containers it was given when it goes out of scope.
class ContainerCleanup {
 public:
  explicit ContainerCleanup(CapiProvider provider) : provider_(std::move(provider)) {}
  ~ContainerCleanup();
  std::string Add(std::string name);  // returns `name`

 private:
  CapiProvider provider_;
  std::vector<std::string> names_;
};

}  // namespace cardvault

#endif  // CARDVAULT_TESTS_CORE_CAPI_CAPI_TEST_SUPPORT_H_
