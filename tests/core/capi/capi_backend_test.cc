// CapiBackend against the card backend contract (tests/core/card/card_backend_contract.h):
// key containers of Wine's software provider (MS_ENH_RSA_AES_PROV), one fresh container per
// card, stand in for smart cards.
#include "core/capi/capi_backend.h"

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "tests/core/capi/capi_test_support.h"
#include "tests/core/card/card_backend_contract.h"

namespace cardvault {
namespace {

// A card is a container named "cv-test-<random>-<name>"; its key's label is that name too.
// Keys are made by OpenSSL and imported, so the harness knows their SPKI independently of the
// backend. Wine's provider asks for no PIN and cannot report a PIN state.
class CapiWineHarness : public CardBackendHarness {
 public:
  CapiWineHarness() : prefix_(NewContainerName()) {}

  Features features() const override {
    Features features;
    features.pin = false;
    features.pin_state = false;
    return features;
  }

  StatusOr<ContractCard> NewCardWithKey(const std::string& name) override {
    EVP_PKEY* pkey = EVP_RSA_gen(2048);
    if (pkey == nullptr) return InternalError("EVP_RSA_gen failed");
    unsigned char* der = nullptr;
    const int len = i2d_PrivateKey(pkey, &der);
    EVP_PKEY_free(pkey);
    if (len <= 0) return InternalError("i2d_PrivateKey failed");
    Bytes pkcs1(der, der + len);
    OPENSSL_free(der);
    return NewCardWithImportedKey(name, pkcs1);
  }

  StatusOr<ContractCard> NewCardWithImportedKey(const std::string& name,
                                                ByteView private_key_der) override {
    ContractCard card = Card(name);
    CV_ASSIGN_OR_RETURN(card.spki, SpkiOfPrivateKey(private_key_der));
    CV_RETURN_IF_ERROR(ImportRsaKey(TestProvider(), cleanup_.Add(card.key_label), private_key_der));
    return card;
  }

  StatusOr<ContractCard> NewEmptyCard(const std::string& name) override {
    ContractCard card = Card(name);
    CV_RETURN_IF_ERROR(NewEmptyContainer(TestProvider(), cleanup_.Add(card.key_label)));
    return card;
  }

  Status RemoveCard(const ContractCard& card) override {
    return CapiContext::Delete(TestProvider(), card.selector.label);
  }

  std::shared_ptr<PinSource> Pin(bool) override { return nullptr; }

  StatusOr<std::unique_ptr<CardBackend>> OpenBackend() override {
    CV_ASSIGN_OR_RETURN(std::unique_ptr<CapiBackend> backend,
                        CapiBackend::New(TestProvider().name, TestProvider().type));
    return std::unique_ptr<CardBackend>(std::move(backend));
  }

 private:
  ContractCard Card(const std::string& name) const {
    ContractCard card;
    card.selector.label = prefix_ + "-" + name;
    card.key_label = card.selector.label;
    return card;
  }

  const std::string prefix_;
  ContainerCleanup cleanup_{TestProvider()};
};

INSTANTIATE_TEST_SUITE_P(CryptoApiWine, CardBackendContractTest,
                         ::testing::Values(CardBackendHarnessFactory{
                             "CryptoApiWine", [] { return std::make_unique<CapiWineHarness>(); }}),
                         CardBackendHarnessName);

}  // namespace
}  // namespace cardvault
