// CardRecipient: wraps file keys to a card's public key, in software, with no card present.
#ifndef CARDVAULT_CORE_CARD_CARD_RECIPIENT_H_
#define CARDVAULT_CORE_CARD_CARD_RECIPIENT_H_

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/card/card_public_key.h"
#include "core/recipient.h"

namespace cardvault {

// A card recipient as text: "cv-p11-" + lowercase hex of the card key's DER
// SubjectPublicKeyInfo. It carries the whole public key, so encrypting needs no card.
inline constexpr char kCardRecipientPrefix[] = "cv-p11-";

// Produces one stanza per Wrap: "p11-rsa-oaep-sha1" for RSA keys, "p11-ecdh-p256" for
// P-256 keys (formats in card_stanza.h), with key_id = KeyIdFromSpki(card public key).
// Uses only OpenSSL and the public key; never loads a PKCS#11 module. Thread-safe.
class CardRecipient : public Recipient {
 public:
  static StatusOr<std::unique_ptr<CardRecipient>> New(CardPublicKey public_key);
  // Parses "cv-p11-<hex SPKI>" (surrounding whitespace ignored). The SPKI MUST be DER of a
  // supported key (RSA >= 2048 or P-256) with no trailing bytes; RSA or ECDH follows from
  // the key. kInvalidArgument "recipient_invalid" otherwise.
  static StatusOr<std::unique_ptr<CardRecipient>> Parse(std::string_view text);

  // `file_key` MUST be 32 bytes.
  StatusOr<std::vector<Stanza>> Wrap(const SecretData& file_key) override;

  const CardPublicKey& public_key() const { return public_key_; }
  // The "cv-p11-..." text that Parse reads back.
  std::string ToString() const;

 private:
  explicit CardRecipient(CardPublicKey public_key) : public_key_(std::move(public_key)) {}
  StatusOr<Stanza> WrapRsa(const SecretData& file_key) const;
  StatusOr<Stanza> WrapEcdh(const SecretData& file_key) const;

  const CardPublicKey public_key_;
};

}  // namespace cardvault

#endif  // CARDVAULT_CORE_CARD_CARD_RECIPIENT_H_
