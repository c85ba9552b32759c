// CardKey: a key pair on a card, found by label or CKA_ID through its public half.
#ifndef CARDVAULT_CORE_PKCS11_CARD_KEY_H_
#define CARDVAULT_CORE_PKCS11_CARD_KEY_H_

#include <p11-kit/pkcs11.h>

#include <optional>
#include <string>
#include <vector>

#include "core/bytes.h"
#include "core/pkcs11/card_public_key.h"
#include "core/pkcs11/pkcs11_session.h"
#include "core/status_or.h"

namespace cardvault {

// Which key to use. Empty fields match anything; with both empty, the token must hold
// exactly one supported key.
struct KeySelector {
  std::string label;
  Bytes id;  // CKA_ID
};

// A key pair on a token, described by its public key object, which is read WITHOUT login,
// or, for cards that hold only a certificate next to the private key, by that X.509
// certificate (same CKA_ID). Handles are valid for the session they were found in only.
struct CardKey {
  std::string label;
  Bytes id;  // CKA_ID, shared by both halves
  // The public key object, or the certificate if the card has no public key object.
  CK_OBJECT_HANDLE public_handle = CK_INVALID_HANDLE;
  bool from_certificate = false;
  // Absent if the key's type or size is unsupported; `unsupported` then says why.
  std::optional<CardPublicKey> public_key;
  Status unsupported;

  // Every public key object on the token, plus every X.509 certificate whose CKA_ID no
  // public key object has (no login needed).
  static StatusOr<std::vector<CardKey>> List(Pkcs11Session& session);
  // The one supported key matching `selector`. kFailedPrecondition "no_key_on_card" (the
  // message points at `cardvault card init`) if none; kInvalidArgument "ambiguous_key" if
  // several match.
  static StatusOr<CardKey> Find(Pkcs11Session& session, const KeySelector& selector);
  // The private half (CKO_PRIVATE_KEY with CKA_ID `id`); the session MUST be logged in
  // for tokens whose private keys are private objects. kFailedPrecondition
  // "no_key_on_card" if absent.
  static StatusOr<CK_OBJECT_HANDLE> FindPrivateHandle(Pkcs11Session& session, ByteView id);
};

}  // namespace cardvault

#endif  // CARDVAULT_CORE_PKCS11_CARD_KEY_H_
