// CardKey: a key pair on a card, found by label or CKA_ID through its public half.
#ifndef CARDVAULT_CORE_PKCS11_CARD_KEY_H_
#define CARDVAULT_CORE_PKCS11_CARD_KEY_H_

#include <p11-kit/pkcs11.h>

#include <optional>
#include <string>
#include <vector>

#include "core/bytes.h"
#include "core/card/card_public_key.h"
#include "core/pkcs11/pkcs11_session.h"
#include "core/status_or.h"

namespace cardvault {

struct CardKey;

// Which key to use. Empty fields match anything; with both empty, the token must hold
// exactly one supported key (or one cardvault prefers, see CardKey::Find).
struct KeySelector {
  // Matches the key's public key label, its certificate's label, its private key's label
  // (when visible), its CKA_ID in hex or its cardvault key id in hex (as `card list` shows
  // them; hex case ignored).
  std::string label;
  Bytes id;  // CKA_ID

  bool Matches(const CardKey& key) const;
  // " labelled "L"" / " with CKA_ID .." for messages; empty for an empty selector.
  std::string Describe() const;
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
  std::string certificate_label;  // the certificate with this CKA_ID, if any
  // The private key with this CKA_ID, if the session sees it (cards behind OpenSC show it
  // without login; SoftHSM2 only after login), and what it may be used for.
  bool private_visible = false;
  std::string private_label;
  bool can_decrypt = false;  // CKA_DECRYPT
  bool can_derive = false;   // CKA_DERIVE
  bool can_sign = false;     // CKA_SIGN
  // Absent if the key's type or size is unsupported; `unsupported` then says why.
  std::optional<CardPublicKey> public_key;
  Status unsupported;

  // Whether cardvault can unwrap with it: a supported public key and, if the private key
  // is visible, CKA_DECRYPT (RSA) or CKA_DERIVE (EC) on it.
  bool Usable() const;
  // "key id K" plus the labels it can be selected by, for messages.
  std::string Describe() const;

  // Every public key object on the token, plus every X.509 certificate whose CKA_ID no
  // public key object has, with the visible private keys' labels and usages (no login
  // needed).
  static StatusOr<std::vector<CardKey>> List(Pkcs11Session& session);
  // The one usable key matching `selector`. With an empty selector and several usable keys
  // (a PIV or CAC card: authentication, signature, key management), the one that can
  // decrypt or derive and cannot sign, if there is exactly one (`why` says so).
  // kFailedPrecondition "no_key_on_card" if none (the message says what the card shows,
  // callers add what to do); kInvalidArgument "ambiguous_key" if several match.
  static StatusOr<CardKey> Find(Pkcs11Session& session, const KeySelector& selector);
  // The choice Find makes among `keys` (already listed): the index, kNoneMatches or
  // kSeveralMatch. `why` says why (for `card list`).
  static constexpr int kNoneMatches = -1;
  static constexpr int kSeveralMatch = -2;
  static int Choose(const std::vector<CardKey>& keys, const KeySelector& selector,
                    std::string* why);
  // The private half (CKO_PRIVATE_KEY with CKA_ID `id`); the session MUST be logged in
  // for tokens whose private keys are private objects. kFailedPrecondition
  // "no_key_on_card" if absent.
  static StatusOr<CK_OBJECT_HANDLE> FindPrivateHandle(Pkcs11Session& session, ByteView id);
};

}  // namespace cardvault

#endif  // CARDVAULT_CORE_PKCS11_CARD_KEY_H_
