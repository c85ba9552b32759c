// CardIdentity: an Identity whose private key lives on a card, as every card backend opens it.
#ifndef CARDVAULT_CORE_CARD_CARD_IDENTITY_H_
#define CARDVAULT_CORE_CARD_CARD_IDENTITY_H_

#include <cstdint>

#include "core/bytes.h"
#include "core/identity.h"

namespace cardvault {

// Security property: the private key never leaves the card; the file key is released only
// after the card itself unwrapped a stanza addressed to this key.
//
// Contract, on top of Identity's (core/identity.h), for every backend:
// - Unwrap MUST match stanzas by type and key_id() first, and MUST NOT touch the card, show
//   UI or ask for a PIN when none matches (NotFound "no_matching_stanza").
// - The card is reached and the PIN asked for only on the first matching Unwrap, at most
//   once per login; a batch of Unwraps logs in once.
// - A failed login is sticky (IsLoginFailure, core/card/card_reasons.h): later Unwraps
//   return the same error without asking again, so a batch can never lock the card.
// - A card that is absent, pulled or failing is kUnavailable (card_absent, card_removed,
//   card_failed), never kCorrupt: a card failure says nothing about the file. A card
//   without this key is wrong_card or no_key_on_card, with what to insert.
// - RSA keys unwrap the "p11-rsa-oaep-sha1" stanza (OAEP, SHA-1, MGF1-SHA-1, the
//   ciphertext big-endian, modulus-long; docs/format.md), whatever the backend.
// Thread-safe (calls are serialized).
class CardIdentity : public Identity {
 public:
  // The cardvault key id of the card key (KeyIdFromSpki of its public key, 8 bytes).
  virtual const Bytes& key_id() const = 0;
  // Private-key operations sent to the card so far.
  virtual uint64_t private_key_operations() const = 0;
};

}  // namespace cardvault

#endif  // CARDVAULT_CORE_CARD_CARD_IDENTITY_H_
