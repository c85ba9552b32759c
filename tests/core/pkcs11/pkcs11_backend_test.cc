// Pkcs11Backend against the card backend contract (tests/core/card/card_backend_contract.h):
// SoftHSM2 tokens, one token directory per test, stand in for cards.
#include "core/pkcs11/pkcs11_backend.h"

#include <openssl/evp.h>
#include <openssl/x509.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <set>

#include "core/card/card_reasons.h"
#include "core/pkcs11/card_key_generator.h"
#include "core/pkcs11/pkcs11_session.h"
#include "tests/core/card/card_backend_contract.h"
#include "tests/core/pkcs11/softhsm_test_base.h"

namespace cardvault {
namespace {

constexpr char kKeyLabel[] = "cardvault";

std::set<std::string> Entries(const std::string& dir) {
  std::set<std::string> names;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    names.insert(entry.path().string());
  }
  return names;
}

void WriteFile(const std::string& path, ByteView data) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(data.data()), static_cast<std::streamsize>(data.size()));
}

// PKCS#8 PrivateKeyInfo and SubjectPublicKeyInfo of a PKCS#8 or PKCS#1 DER private key.
Status ToPkcs8AndSpki(ByteView private_key_der, Bytes* pkcs8, Bytes* spki) {
  const unsigned char* p = private_key_der.data();
  EVP_PKEY* pkey = d2i_AutoPrivateKey(nullptr, &p, static_cast<long>(private_key_der.size()));
  if (pkey == nullptr) return InvalidArgumentError("not a DER private key");
  unsigned char* der = nullptr;
  PKCS8_PRIV_KEY_INFO* p8 = EVP_PKEY2PKCS8(pkey);
  int len = i2d_PKCS8_PRIV_KEY_INFO(p8, &der);
  PKCS8_PRIV_KEY_INFO_free(p8);
  if (len > 0) pkcs8->assign(der, der + len);
  OPENSSL_free(der);
  der = nullptr;
  int spki_len = i2d_PUBKEY(pkey, &der);
  if (spki_len > 0) spki->assign(der, der + spki_len);
  OPENSSL_free(der);
  EVP_PKEY_free(pkey);
  if (len <= 0 || spki_len <= 0) return InternalError("cannot re-encode the key");
  return Status::Ok();
}

// Cards are SoftHSM2 tokens labelled with the card's name; the module is opened only while
// the harness makes a card, so OpenBackend's C_Initialize sees every token made before.
class SoftHsmHarness : public CardBackendHarness {
 public:
  SoftHsmHarness() { tokens_.SetUp(); }
  ~SoftHsmHarness() override { tokens_.TearDown(); }

  Features features() const override { return {}; }  // everything

  StatusOr<ContractCard> NewCardWithKey(const std::string& name) override {
    CV_ASSIGN_OR_RETURN(ContractCard card, NewEmptyCard(name));
    CV_ASSIGN_OR_RETURN(std::shared_ptr<Pkcs11Module> module, Pkcs11Module::Open(kSoftHsmModule));
    CV_ASSIGN_OR_RETURN(CardToken token, CardToken::Find(*module, {name, ""}));
    CV_ASSIGN_OR_RETURN(std::unique_ptr<Pkcs11Session> session,
                        Pkcs11Session::Open(module, token.slot, Pkcs11Session::Mode::kReadWrite));
    SecretData pin = SecretData::CopyFrom(std::string_view(kUserPin));
    CV_RETURN_IF_ERROR(session->Login(&pin));
    CV_ASSIGN_OR_RETURN(CardKey key, CardKeyGenerator::Generate(
                                         *session, {CardKeyAlgorithm::kRsa2048, kKeyLabel, {}}));
    card.spki = key.public_key->spki();
    return card;
  }

  StatusOr<ContractCard> NewCardWithImportedKey(const std::string& name,
                                                ByteView private_key_der) override {
    Bytes pkcs8, spki;
    CV_RETURN_IF_ERROR(ToPkcs8AndSpki(private_key_der, &pkcs8, &spki));
    CV_ASSIGN_OR_RETURN(ContractCard card, NewEmptyCard(name));
    const std::string key_file = tokens_.dir() + "/import.der";
    const std::string pub_file = tokens_.dir() + "/import.pub.der";
    WriteFile(key_file, pkcs8);
    WriteFile(pub_file, spki);
    // OpenSC's pkcs11-tool, as a card vendor's tool would import a key.
    const std::string tool = std::string("pkcs11-tool --module ") + kSoftHsmModule +
                             " --token-label '" + name + "' --login --pin " + kUserPin +
                             " --id 01 --label " + kKeyLabel + " ";
    const int rc =
        SoftHsmTokens::Run(tool + "--write-object " + key_file +
                           " --type privkey --usage-decrypt >/dev/null 2>&1 && " + tool +
                           "--write-object " + pub_file + " --type pubkey >/dev/null 2>&1");
    std::filesystem::remove(key_file);
    if (rc != 0) return InternalError("pkcs11-tool could not import the key");
    card.spki = spki;
    return card;
  }

  StatusOr<ContractCard> NewEmptyCard(const std::string& name) override {
    const std::set<std::string> before = Entries(tokens_.token_dir());
    ContractCard card;
    card.selector.label = name;
    card.selector.serial = tokens_.InitToken(name);
    card.key_label = kKeyLabel;
    for (const std::string& entry : Entries(tokens_.token_dir())) {
      if (before.count(entry) == 0) token_dirs_[name] = entry;
    }
    if (card.selector.serial.empty() || token_dirs_.count(name) == 0) {
      return InternalError("softhsm2-util could not make the token " + name);
    }
    return card;
  }

  Status RemoveCard(const ContractCard& card) override {
    auto it = token_dirs_.find(card.selector.label);
    if (it == token_dirs_.end()) return NotFoundError("no such test card");
    std::filesystem::remove_all(it->second);
    token_dirs_.erase(it);
    return Status::Ok();
  }

  std::shared_ptr<PinSource> Pin(bool right) override {
    const std::string pin = right ? kUserPin : "999999";
    return PinSource::FromCallback(
        [pin](const PinRequest&) { return SecretData::CopyFrom(std::string_view(pin)); });
  }

  StatusOr<std::unique_ptr<CardBackend>> OpenBackend() override {
    return Pkcs11Backend::New(kSoftHsmModule);
  }

 private:
  SoftHsmTokens tokens_;
  std::map<std::string, std::string> token_dirs_;  // card name -> its token directory
};

INSTANTIATE_TEST_SUITE_P(Pkcs11, CardBackendContractTest,
                         ::testing::Values(CardBackendHarnessFactory{
                             "SoftHsm2", [] { return std::make_unique<SoftHsmHarness>(); }}),
                         CardBackendHarnessName);

// Beyond the contract: what only PKCS#11 has.
TEST(Pkcs11BackendTest, MissingModuleIsModuleMissing) {
  auto backend = Pkcs11Backend::New("/nonexistent/module.so");
  ASSERT_FALSE(backend.ok());
  EXPECT_EQ(backend.status().reason(), kReasonModuleMissing) << backend.status().ToString();
}

}  // namespace
}  // namespace cardvault
