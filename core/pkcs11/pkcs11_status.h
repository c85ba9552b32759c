// Maps PKCS#11 return values (CK_RV) to cardvault Status values with clear messages.
#ifndef CARDVAULT_CORE_PKCS11_PKCS11_STATUS_H_
#define CARDVAULT_CORE_PKCS11_PKCS11_STATUS_H_

#include <p11-kit/pkcs11.h>

#include <string>
#include <string_view>

#include "core/card/card_reasons.h"
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

// Whether `rv` says the card failed or vanished (CKR_GENERAL_ERROR, CKR_DEVICE_REMOVED,
// CKR_TOKEN_NOT_PRESENT, CKR_DEVICE_ERROR, CKR_FUNCTION_FAILED).
bool IsCardFailure(CK_RV rv);

}  // namespace cardvault

#endif  // CARDVAULT_CORE_PKCS11_PKCS11_STATUS_H_
