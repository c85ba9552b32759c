// Pkcs11Identity: recovers file keys with a private key that never leaves the card.
#ifndef CARDVAULT_CORE_PKCS11_PKCS11_IDENTITY_H_
#define CARDVAULT_CORE_PKCS11_PKCS11_IDENTITY_H_

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <optional>
#include <span>

#include "core/card/card_identity.h"
#include "core/card/idle_closer.h"
#include "core/card/pin_source.h"
#include "core/pkcs11/card_key.h"
#include "core/pkcs11/card_token.h"
#include "core/pkcs11/pkcs11_module.h"

namespace cardvault {

struct Pkcs11IdentityOptions {
  std::shared_ptr<Pkcs11Module> module;  // required
  // Which card (label and/or serial). If empty, every inserted card is searched for the
  // key (by key_id if given, else the only usable key on any card).
  TokenSelector token;
  KeySelector key;  // which key on it (label and/or CKA_ID)
  // The expected KeyIdFromSpki of the card key (8 bytes), as recorded by `cardvault card
  // init`. If given, the card is not touched until a stanza carries this id. If empty,
  // New() reads it from the card (public key, no PIN).
  Bytes key_id;
  // Asked for the PIN at most once per login. Not consulted for readers with a protected
  // authentication path (PIN pad). Required unless the reader has one.
  std::shared_ptr<PinSource> pin_source;
  // kAuto: CKM_RSA_PKCS_OAEP (SHA-1), falling back to CKM_RSA_X_509 plus OpenSSL's OAEP
  // unpadding if the token answers CKR_MECHANISM_INVALID. kRawRsa: CKM_RSA_X_509 always
  // (for tokens whose OAEP is broken).
  enum class RsaMechanism { kAuto, kRawRsa };
  RsaMechanism rsa_mechanism = RsaMechanism::kAuto;
  // Log out of the card after this long without an Unwrap (the next one asks for the PIN
  // again). Zero means "always ask": log out right after every Unwrap.
  std::chrono::seconds idle_timeout{300};
};

// Implements CardIdentity (core/card/card_identity.h) with a PKCS#11 card:
// - Stanzas are matched by key id and type FIRST; if none matches, Unwrap returns NotFound
//   "no_matching_stanza" without loading anything from the card or asking for a PIN.
// - The first matching Unwrap finds the token, checks its key's id (PermissionDenied
//   "wrong_card" if the card holds other keys), logs in once and keeps ONE session open
//   for the identity's lifetime, so a batch of Unwraps logs in once.
// - A failed login (pin_incorrect, login_failed, pin_locked, pin_empty, cancelled, or the
//   card removed or failed during C_Login) is sticky: later
//   Unwraps return the same error without asking for a PIN or calling C_Login again, so a
//   batch cannot lock the card. To try another PIN, make a new Pkcs11Identity.
// - If the card is removed or fails during an operation, Unwrap returns kUnavailable
//   "card_removed" or "card_failed" (the slot is re-checked to tell which; never kCorrupt,
//   so callers never take it for a damaged file) and drops the session; a later Unwrap
//   reconnects (and asks for the PIN again). A card gone before any operation is
//   "card_absent".
// - A card that shows no key with the expected key id is "wrong_card" (other keys shown) or
//   "no_key_on_card" (none), with "insert the card with key id ..." and what each card
//   shows; never advice to create a key.
// - A failed wrong-PIN login reads only the token info of the slot in use, to add the PIN
//   state and the card's name to the error.
// - After options.idle_timeout without an Unwrap, a background thread logs out of the card
//   and closes the session, so an unattended agent does not keep the card unlocked.
// Thread-safe (calls are serialized).
class Pkcs11Identity : public CardIdentity {
 public:
  static StatusOr<std::unique_ptr<Pkcs11Identity>> New(Pkcs11IdentityOptions options);
  ~Pkcs11Identity() override;

  StatusOr<SecretData> Unwrap(std::span<const Stanza> stanzas) override;

  const Bytes& key_id() const override { return options_.key_id; }
  // Private-key operations sent to the card so far (C_Decrypt / C_DeriveKey calls).
  uint64_t private_key_operations() const override { return private_key_operations_.load(); }

 private:
  struct Connection;
  explicit Pkcs11Identity(Pkcs11IdentityOptions options);

  // Opens a session on the token holding the key: the selected token, or every
  // initialized one if none was selected. kUnavailable "card_absent", kFailedPrecondition
  // "no_key_on_card", kPermissionDenied "wrong_card" or kInvalidArgument "ambiguous_key".
  StatusOr<std::unique_ptr<Connection>> Discover();
  // Which of `keys` (listed from `token`) this identity uses: an index, or
  // CardKey::kNoneMatches. `label_unverified`: the selector's label may be the private
  // key's, which the card hides until login (Connect checks it then).
  StatusOr<int> ChooseKey(const CardToken& token, const std::vector<CardKey>& keys,
                          bool* label_unverified) const;
  // No inserted card holds the key: "insert the card with key id ..." naming what the cards
  // show (`seen`); wrong_card if they show other keys, else no_key_on_card.
  Status NotFoundHere(const std::string& seen, bool any_key) const;
  Status CheckPrivateLabel(Connection& connection) const;
  // A failed login, with the PIN state of the card `used` (one C_GetTokenInfo).
  Status LoginFailure(const Status& failure, const CardToken& used) const;
  // Finds the token and key (reusing `existing` if given) and, if `login`, logs in and
  // finds the private key. On failure `existing` is closed.
  StatusOr<std::unique_ptr<Connection>> Connect(std::unique_ptr<Connection> existing, bool login);
  StatusOr<SecretData> UnwrapRsa(Connection& connection, const Stanza& stanza);
  // CKM_RSA_X_509 on the card, OAEP unpadding here; `stanza`'s body is modulus-long.
  StatusOr<SecretData> UnwrapRawRsa(Connection& connection, const Stanza& stanza);
  StatusOr<SecretData> UnwrapEcdh(Connection& connection, const Stanza& stanza);
  // C_Decrypt of `input` with `mechanism` into a buffer of `output_size` bytes.
  StatusOr<SecretData> Decrypt(Connection& connection, CK_MECHANISM mechanism, ByteView input,
                               size_t output_size);

  Pkcs11IdentityOptions options_;
  std::mutex mu_;
  std::unique_ptr<Connection> connection_;  // guarded by mu_
  std::optional<Status> login_failure_;     // guarded by mu_; sticky
  bool sticky_ = false;                     // guarded by mu_; Connect's failure is final
  bool raw_rsa_ = false;                    // guarded by mu_
  std::atomic<uint64_t> private_key_operations_{0};
  // Logs out and closes the session after options_.idle_timeout; declared last, so it stops
  // before connection_ goes.
  IdleCloser idle_;
};

}  // namespace cardvault

#endif  // CARDVAULT_CORE_PKCS11_PKCS11_IDENTITY_H_
