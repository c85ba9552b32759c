// CardKeyGenerator: creates a key pair ON the card (the private key never exists elsewhere).
#ifndef CARDVAULT_CORE_PKCS11_CARD_KEY_GENERATOR_H_
#define CARDVAULT_CORE_PKCS11_CARD_KEY_GENERATOR_H_

#include <string>

#include "core/bytes.h"
#include "core/pkcs11/card_key.h"
#include "core/pkcs11/pkcs11_session.h"
#include "core/status_or.h"

namespace cardvault {

enum class CardKeyAlgorithm { kRsa2048, kRsa3072, kEcP256 };

struct CardKeySpec {
  CardKeyAlgorithm algorithm = CardKeyAlgorithm::kEcP256;
  std::string label;  // MUST be non-empty and unused on the token
  Bytes id;           // CKA_ID for both halves; 16 random bytes if empty
};

// Key generation is only ever done when the user asks (`cardvault card init`).
class CardKeyGenerator {
 public:
  // Generates the pair with C_GenerateKeyPair in `session`, which MUST be read-write and
  // logged in. The private key is CKA_TOKEN, CKA_PRIVATE, CKA_SENSITIVE and not
  // CKA_EXTRACTABLE; both halves carry spec.label and spec.id. kAlreadyExists
  // "key_exists" if a key with that label or id is already on the token.
  static StatusOr<CardKey> Generate(Pkcs11Session& session, const CardKeySpec& spec);
};

}  // namespace cardvault

#endif  // CARDVAULT_CORE_PKCS11_CARD_KEY_GENERATOR_H_
