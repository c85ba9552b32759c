// Maps PKCS#11 return values (CK_RV) to cardvault Status values with clear messages.
#ifndef CARDVAULT_CORE_PKCS11_PKCS11_STATUS_H_
#define CARDVAULT_CORE_PKCS11_PKCS11_STATUS_H_

#include <p11-kit/pkcs11.h>

#include <string>
#include <string_view>

#include "core/status.h"

namespace cardvault {

// Returns the symbolic name of `rv`, e.g. "CKR_PIN_INCORRECT", or "CKR_0x...".
std::string CkrName(CK_RV rv);

// Maps the result of the PKCS#11 call `operation` (e.g. "C_Login") to a Status. CKR_OK is
// OK. The message names the operation and the CK_RV. Stable reasons:
// - token absent or removed, session gone:     kUnavailable "card_absent"
//   (a caller that knows an operation was under way re-checks the slot and reports
//   "card_removed" or "card_failed" instead: CardFailure below)
// - CKR_PIN_INCORRECT (and malformed PINs):     kPermissionDenied "pin_incorrect"
// - CKR_PIN_LOCKED, CKR_PIN_EXPIRED:            kPermissionDenied "pin_locked"
// - CKR_USER_NOT_LOGGED_IN:                     kPermissionDenied "not_logged_in"
// - CKR_USER_PIN_NOT_INITIALIZED:               kFailedPrecondition "pin_not_initialized"
// - mechanism or function not offered:         kUnsupported "mechanism_unsupported"
// - ciphertext rejected by the card:            kCorrupt "stanza_unwrap_failed"
// - key handle invalid:                         kFailedPrecondition "no_key_on_card"
//   (the message names the key; callers add what to do)
// - user cancelled (pinpad):                    kCancelled "pin_cancelled"
// - anything else:                              kInternal "pkcs11_error"
Status CkrToStatus(CK_RV rv, std::string_view operation);

// The reasons cardvault attaches to card failures, for callers and tests to match.
inline constexpr char kReasonModuleMissing[] = "module_missing";
inline constexpr char kReasonCardAbsent[] = "card_absent";
inline constexpr char kReasonPinIncorrect[] = "pin_incorrect";
inline constexpr char kReasonPinLocked[] = "pin_locked";
inline constexpr char kReasonWrongCard[] = "wrong_card";
inline constexpr char kReasonNoKeyOnCard[] = "no_key_on_card";
// The card was pulled (or replaced) while an operation on it was under way: kUnavailable.
inline constexpr char kReasonCardRemoved[] = "card_removed";
// The card is still inserted but failed an operation (CKR_GENERAL_ERROR, CKR_DEVICE_ERROR):
// kUnavailable. Never kCorrupt: the file is not at fault.
inline constexpr char kReasonCardFailed[] = "card_failed";
// C_Login answered CKR_GENERAL_ERROR with the card still inserted: a wrong PIN on some cards,
// or a card fault. kPermissionDenied; never retried.
inline constexpr char kReasonLoginFailed[] = "login_failed";
inline constexpr char kReasonMechanismUnsupported[] = "mechanism_unsupported";

// Whether `rv` says the card failed or vanished (CKR_GENERAL_ERROR, CKR_DEVICE_REMOVED,
// CKR_TOKEN_NOT_PRESENT, CKR_DEVICE_ERROR, CKR_FUNCTION_FAILED).
bool IsCardFailure(CK_RV rv);

// True for the reasons a failed login leaves behind (pin_incorrect, pin_locked,
// login_failed, pin_empty, a cancelled prompt): a caller MUST NOT try another login with the
// same PIN source after one of these.
bool IsLoginFailure(const Status& status);

}  // namespace cardvault

#endif  // CARDVAULT_CORE_PKCS11_PKCS11_STATUS_H_
