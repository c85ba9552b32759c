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
// - CKR_PIN_INCORRECT (and malformed PINs):     kPermissionDenied "pin_incorrect"
// - CKR_PIN_LOCKED, CKR_PIN_EXPIRED:            kPermissionDenied "pin_locked"
// - CKR_USER_NOT_LOGGED_IN:                     kPermissionDenied "not_logged_in"
// - CKR_USER_PIN_NOT_INITIALIZED:               kFailedPrecondition "pin_not_initialized"
// - mechanism or function not offered:         kUnsupported "mechanism_unsupported"
// - ciphertext rejected by the card:            kCorrupt "stanza_unwrap_failed"
// - key handle invalid:                         kFailedPrecondition "no_key_on_card"
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

}  // namespace cardvault

#endif  // CARDVAULT_CORE_PKCS11_PKCS11_STATUS_H_
