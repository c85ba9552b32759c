// Pkcs11Backend: the CardBackend (core/card/card_backend.h) over a PKCS#11 module.
#ifndef CARDVAULT_CORE_PKCS11_PKCS11_BACKEND_H_
#define CARDVAULT_CORE_PKCS11_PKCS11_BACKEND_H_

#include <memory>
#include <string>

#include "core/card/card_backend.h"
#include "core/pkcs11/card_token.h"
#include "core/pkcs11/pkcs11_module.h"

namespace cardvault {

// Implements CardBackend's contract with one PKCS#11 module (a card driver, or p11-kit's
// proxy reaching every registered one):
// - List reads slots, tokens and public objects in read-only sessions, never C_Login.
// - CreateKey checks the mechanism list (CanGenerate) and that no key carries the label
//   before asking for the PIN (or the reader's PIN pad), then generates the pair on the
//   card (CardKeyGenerator): kUnsupported "mechanism_unsupported" naming the card, what else
//   it can make and the key it may already hold; kAlreadyExists "key_exists".
// - OpenIdentity returns a Pkcs11Identity (its contract in pkcs11_identity.h).
// Thread-safe as its module is.
class Pkcs11Backend : public CardBackend {
 public:
  // Loads the module at `module_path` (p11-kit's proxy if empty): kNotFound
  // "module_missing" if it is not there or not a module.
  static StatusOr<std::unique_ptr<CardBackend>> New(const std::string& module_path);

  std::string Describe() const override;
  StatusOr<CardListing> List() override;
  StatusOr<NewCardKey> CreateKey(const NewCardKeyRequest& request) override;
  StatusOr<std::unique_ptr<CardIdentity>> OpenIdentity(CardIdentityRequest request) override;

 private:
  explicit Pkcs11Backend(std::shared_ptr<Pkcs11Module> module) : module_(std::move(module)) {}

  // What the token shows without a PIN (token info, public objects).
  CardInfo ReadCard(const CardToken& token) const;
  // mechanism_unsupported for CreateKey: names the card, and points at the key a card set
  // up by an IT department already holds.
  Status CannotGenerate(const CardToken& token, CardKeyAlgorithm algorithm,
                        const std::string& detail) const;

  std::shared_ptr<Pkcs11Module> module_;
};

}  // namespace cardvault

#endif  // CARDVAULT_CORE_PKCS11_PKCS11_BACKEND_H_
