// The conformance suite every CardBackend (core/card/card_backend.h) passes, restic style:
// a backend's test wires its test cards into a CardBackendHarness and instantiates the
// suite; the tests themselves (card_backend_contract.cc) know no backend.
//
// Wiring a backend (see tests/core/pkcs11/pkcs11_backend_test.cc):
//   1. implement CardBackendHarness (fresh cards per harness instance);
//   2. add tests/core/card/card_backend_contract.cc to the test's SOURCES and link
//      cardvault_card_contract's dependencies (cardvault_card, GTest);
//   3. INSTANTIATE_TEST_SUITE_P(Name, CardBackendContractTest,
//          ::testing::Values(CardBackendHarnessFactory{"Name", [] { return ...; }}),
//          CardBackendHarnessName);
//
// This header stays free of any backend's types and of POSIX-only calls: it compiles with
// MinGW for the CryptoAPI backend under Wine.
#ifndef CARDVAULT_TESTS_CORE_CARD_CARD_BACKEND_CONTRACT_H_
#define CARDVAULT_TESTS_CORE_CARD_CARD_BACKEND_CONTRACT_H_

#include <gtest/gtest.h>

#include <functional>
#include <memory>
#include <ostream>
#include <string>

#include "core/bytes.h"
#include "core/card/card_backend.h"
#include "core/card/pin_source.h"
#include "core/status_or.h"

namespace cardvault {

// A test card (PKCS#11: a token; CryptoAPI: a key container) the harness made.
struct ContractCard {
  // Selects this card and no other (OpenIdentity, CreateKey), and finds it in a listing:
  // every non-empty field MUST equal the listed CardInfo's label / serial.
  CardSelector selector;
  // DER SubjectPublicKeyInfo of the card's key, as the harness knows it independently of the
  // backend (from the key it generated or imported). Empty for an empty card.
  Bytes spki;
  // The key's label (CardKeyInfo::label; `--key-label`), or for an empty card the label
  // CreateKey should use.
  std::string key_label;
};

// What a backend's test environment provides. One harness instance per test: it starts with
// no cards and removes everything it made when destroyed.
class CardBackendHarness {
 public:
  // Steps a backend may not support; a test needing one is skipped (GTEST_SKIP) naming why.
  struct Features {
    // The backend asks its PinSource for a PIN, so a wrong PIN can be given (CryptoAPI under
    // Wine with a software provider: no PIN).
    bool pin = true;
    // List reports the card's PIN state (CardPinState::known).
    bool pin_state = true;
    // NewEmptyCard works.
    bool empty_card = true;
    // CreateKey can make an RSA-2048 key on an empty card.
    bool create_key = true;
  };

  virtual ~CardBackendHarness() = default;

  virtual Features features() const = 0;

  // A fresh card holding one RSA-2048 key pair generated on it. `name` is unique within the
  // test; the harness may decorate it (unique container names) and says so in the selector.
  virtual StatusOr<ContractCard> NewCardWithKey(const std::string& name) = 0;
  // A fresh card holding the RSA private key `private_key_der` (PKCS#8 PrivateKeyInfo or
  // PKCS#1 RSAPrivateKey, DER), so the same key exists on two cards or two backends.
  virtual StatusOr<ContractCard> NewCardWithImportedKey(const std::string& name,
                                                        ByteView private_key_der) = 0;
  // A fresh card holding no key (kUnsupported if !features().empty_card).
  virtual StatusOr<ContractCard> NewEmptyCard(const std::string& name) = 0;
  // Takes the card away, as if pulled from its reader (PKCS#11: its token is deleted;
  // CryptoAPI: its container is deleted).
  virtual Status RemoveCard(const ContractCard& card) = 0;

  // A PIN source giving the right PIN for the harness's cards, or a wrong one. Null where
  // the backend needs no PIN (!features().pin).
  virtual std::shared_ptr<PinSource> Pin(bool right) = 0;

  // A backend that sees every card made so far. Tests make their cards first, then open the
  // backend (PKCS#11 modules such as SoftHSM2 see new tokens only when (re)initialized);
  // cards removed later need not disappear from an open backend.
  virtual StatusOr<std::unique_ptr<CardBackend>> OpenBackend() = 0;
};

// How a backend's test makes its harness; the suite's parameter.
struct CardBackendHarnessFactory {
  std::string name;  // the instantiation's name ("Pkcs11SoftHsm", "CryptoApiWine")
  std::function<std::unique_ptr<CardBackendHarness>()> make;
};

// Prints the factory's name (GoogleTest would dump its bytes).
void PrintTo(const CardBackendHarnessFactory& factory, std::ostream* out);

// For INSTANTIATE_TEST_SUITE_P's name generator.
std::string CardBackendHarnessName(const ::testing::TestParamInfo<CardBackendHarnessFactory>& info);

// The fixture of the conformance tests (card_backend_contract.cc).
class CardBackendContractTest : public ::testing::TestWithParam<CardBackendHarnessFactory> {
 protected:
  void SetUp() override;
  void TearDown() override;

  CardBackendHarness& harness() { return *harness_; }

 private:
  std::unique_ptr<CardBackendHarness> harness_;
};

}  // namespace cardvault

#endif  // CARDVAULT_TESTS_CORE_CARD_CARD_BACKEND_CONTRACT_H_
