// The reasons every card backend attaches to its errors (Status::reason()), so callers,
// messages and tests match on them whatever the backend (PKCS#11, CryptoAPI).
#ifndef CARDVAULT_CORE_CARD_CARD_REASONS_H_
#define CARDVAULT_CORE_CARD_CARD_REASONS_H_

#include "core/status.h"

namespace cardvault {

// The backend itself is missing (no PKCS#11 module at that path, no such CryptoAPI
// provider): kNotFound.
inline constexpr char kReasonModuleMissing[] = "module_missing";
// No card (or no key container) is there: kUnavailable.
inline constexpr char kReasonCardAbsent[] = "card_absent";
// The PIN was rejected: kPermissionDenied. Never retried.
inline constexpr char kReasonPinIncorrect[] = "pin_incorrect";
// The PIN is blocked or expired: kPermissionDenied.
inline constexpr char kReasonPinLocked[] = "pin_locked";
// A card is there but holds other keys than the one asked for: kPermissionDenied.
inline constexpr char kReasonWrongCard[] = "wrong_card";
// The card holds no usable key (or not the selected one): kFailedPrecondition.
inline constexpr char kReasonNoKeyOnCard[] = "no_key_on_card";
// The card was pulled (or replaced) while an operation on it was under way: kUnavailable.
inline constexpr char kReasonCardRemoved[] = "card_removed";
// The card is still inserted but failed an operation: kUnavailable. Never kCorrupt: the
// file is not at fault.
inline constexpr char kReasonCardFailed[] = "card_failed";
// The login failed in a way that may be a wrong PIN or a card fault (PKCS#11
// CKR_GENERAL_ERROR at C_Login): kPermissionDenied; never retried.
inline constexpr char kReasonLoginFailed[] = "login_failed";
// The card or its driver cannot do what was asked (a key type, OAEP, key generation):
// kUnsupported.
inline constexpr char kReasonMechanismUnsupported[] = "mechanism_unsupported";
// The user cancelled a PIN prompt (a PIN pad, the provider's dialog): kCancelled.
inline constexpr char kReasonPinCancelled[] = "pin_cancelled";
// The PIN source gave an empty PIN: kInvalidArgument; nothing was sent to the card.
inline constexpr char kReasonPinEmpty[] = "pin_empty";
// The backend would need to show UI or ask for a PIN where it was told not to (CryptoAPI's
// CRYPT_SILENT): kFailedPrecondition.
inline constexpr char kReasonPinNeeded[] = "pin_needed";
// A key with that label already exists (card init): kAlreadyExists.
inline constexpr char kReasonKeyExists[] = "key_exists";
// Several cards or keys match a selector: kInvalidArgument.
inline constexpr char kReasonAmbiguousToken[] = "ambiguous_token";
inline constexpr char kReasonAmbiguousKey[] = "ambiguous_key";

// True for the reasons a failed login leaves behind (pin_incorrect, pin_locked,
// login_failed, pin_empty, a cancelled prompt): a caller MUST NOT try another login with the
// same PIN source after one of these.
bool IsLoginFailure(const Status& status);

}  // namespace cardvault

#endif  // CARDVAULT_CORE_CARD_CARD_REASONS_H_
