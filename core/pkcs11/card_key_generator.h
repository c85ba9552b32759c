// CardKeyGenerator: creates a key pair ON the card (the private key never exists elsewhere).
#ifndef CARDVAULT_CORE_PKCS11_CARD_KEY_GENERATOR_H_
#define CARDVAULT_CORE_PKCS11_CARD_KEY_GENERATOR_H_

#include <string>

#include "core/bytes.h"
#include "core/card/card_backend.h"
#include "core/pkcs11/card_key.h"
#include "core/pkcs11/pkcs11_session.h"
#include "core/status_or.h"

namespace cardvault {

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
  // CKA_EXTRACTABLE; both halves carry spec.label and spec.id. Only the usages cardvault
  // needs: RSA private CKA_DECRYPT, public CKA_ENCRYPT; P-256 private CKA_DERIVE; never
  // CKA_SIGN, CKA_VERIFY, CKA_WRAP or CKA_UNWRAP. kAlreadyExists "key_exists" if a key with
  // that label or id is already on the token.
  static StatusOr<CardKey> Generate(Pkcs11Session& session, const CardKeySpec& spec);

  // Whether the module offers generating `algorithm` keys on the token in `slot`
  // (CKM_RSA_PKCS_KEY_PAIR_GEN / CKM_EC_KEY_PAIR_GEN in C_GetMechanismList, within
  // the mechanism's key sizes). No login, no PIN.
  static StatusOr<bool> CanGenerate(const Pkcs11Module& module, CK_SLOT_ID slot,
                                    CardKeyAlgorithm algorithm);
};

}  // namespace cardvault

#endif  // CARDVAULT_CORE_PKCS11_CARD_KEY_GENERATOR_H_
