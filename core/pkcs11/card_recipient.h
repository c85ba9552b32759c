// CardRecipient: wraps file keys to a card's public key, in software, with no card present.
#ifndef CARDVAULT_CORE_PKCS11_CARD_RECIPIENT_H_
#define CARDVAULT_CORE_PKCS11_CARD_RECIPIENT_H_

#include <memory>
#include <vector>

#include "core/pkcs11/card_public_key.h"
#include "core/recipient.h"

namespace cardvault {

// Produces one stanza per Wrap: "p11-rsa-oaep-sha1" for RSA keys, "p11-ecdh-p256" for
// P-256 keys (formats in card_stanza.h), with key_id = KeyIdFromSpki(card public key).
// Uses only OpenSSL and the public key; never loads a PKCS#11 module. Thread-safe.
class CardRecipient : public Recipient {
 public:
  static StatusOr<std::unique_ptr<CardRecipient>> New(CardPublicKey public_key);

  // `file_key` MUST be 32 bytes.
  StatusOr<std::vector<Stanza>> Wrap(const SecretData& file_key) override;

  const CardPublicKey& public_key() const { return public_key_; }

 private:
  explicit CardRecipient(CardPublicKey public_key) : public_key_(std::move(public_key)) {}
  StatusOr<Stanza> WrapRsa(const SecretData& file_key) const;
  StatusOr<Stanza> WrapEcdh(const SecretData& file_key) const;

  const CardPublicKey public_key_;
};

}  // namespace cardvault

#endif  // CARDVAULT_CORE_PKCS11_CARD_RECIPIENT_H_
