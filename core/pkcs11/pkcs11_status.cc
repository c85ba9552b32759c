// CK_RV to Status mapping and CK_RV names.
#include "core/pkcs11/pkcs11_status.h"

#include <cstdio>

namespace cardvault {

std::string CkrName(CK_RV rv) {
  switch (rv) {
#define CV_CKR_(name) \
  case name:          \
    return #name;
    CV_CKR_(CKR_OK)
    CV_CKR_(CKR_CANCEL)
    CV_CKR_(CKR_HOST_MEMORY)
    CV_CKR_(CKR_SLOT_ID_INVALID)
    CV_CKR_(CKR_GENERAL_ERROR)
    CV_CKR_(CKR_FUNCTION_FAILED)
    CV_CKR_(CKR_ARGUMENTS_BAD)
    CV_CKR_(CKR_ATTRIBUTE_READ_ONLY)
    CV_CKR_(CKR_ATTRIBUTE_SENSITIVE)
    CV_CKR_(CKR_ATTRIBUTE_TYPE_INVALID)
    CV_CKR_(CKR_ATTRIBUTE_VALUE_INVALID)
    CV_CKR_(CKR_DATA_INVALID)
    CV_CKR_(CKR_DATA_LEN_RANGE)
    CV_CKR_(CKR_DEVICE_ERROR)
    CV_CKR_(CKR_DEVICE_MEMORY)
    CV_CKR_(CKR_DEVICE_REMOVED)
    CV_CKR_(CKR_ENCRYPTED_DATA_INVALID)
    CV_CKR_(CKR_ENCRYPTED_DATA_LEN_RANGE)
    CV_CKR_(CKR_FUNCTION_CANCELED)
    CV_CKR_(CKR_FUNCTION_NOT_SUPPORTED)
    CV_CKR_(CKR_KEY_HANDLE_INVALID)
    CV_CKR_(CKR_KEY_SIZE_RANGE)
    CV_CKR_(CKR_KEY_TYPE_INCONSISTENT)
    CV_CKR_(CKR_KEY_FUNCTION_NOT_PERMITTED)
    CV_CKR_(CKR_MECHANISM_INVALID)
    CV_CKR_(CKR_MECHANISM_PARAM_INVALID)
    CV_CKR_(CKR_OBJECT_HANDLE_INVALID)
    CV_CKR_(CKR_OPERATION_ACTIVE)
    CV_CKR_(CKR_OPERATION_NOT_INITIALIZED)
    CV_CKR_(CKR_PIN_INCORRECT)
    CV_CKR_(CKR_PIN_INVALID)
    CV_CKR_(CKR_PIN_LEN_RANGE)
    CV_CKR_(CKR_PIN_EXPIRED)
    CV_CKR_(CKR_PIN_LOCKED)
    CV_CKR_(CKR_SESSION_CLOSED)
    CV_CKR_(CKR_SESSION_COUNT)
    CV_CKR_(CKR_SESSION_HANDLE_INVALID)
    CV_CKR_(CKR_SESSION_READ_ONLY)
    CV_CKR_(CKR_TEMPLATE_INCOMPLETE)
    CV_CKR_(CKR_TEMPLATE_INCONSISTENT)
    CV_CKR_(CKR_TOKEN_NOT_PRESENT)
    CV_CKR_(CKR_TOKEN_NOT_RECOGNIZED)
    CV_CKR_(CKR_TOKEN_WRITE_PROTECTED)
    CV_CKR_(CKR_USER_ALREADY_LOGGED_IN)
    CV_CKR_(CKR_USER_NOT_LOGGED_IN)
    CV_CKR_(CKR_USER_PIN_NOT_INITIALIZED)
    CV_CKR_(CKR_USER_TYPE_INVALID)
    CV_CKR_(CKR_BUFFER_TOO_SMALL)
    CV_CKR_(CKR_CRYPTOKI_NOT_INITIALIZED)
    CV_CKR_(CKR_CRYPTOKI_ALREADY_INITIALIZED)
#undef CV_CKR_
    default: {
      char buf[32];
      std::snprintf(buf, sizeof(buf), "CKR_0x%08lx", static_cast<unsigned long>(rv));
      return buf;
    }
  }
}

bool IsCardFailure(CK_RV rv) {
  return rv == CKR_GENERAL_ERROR || rv == CKR_DEVICE_REMOVED || rv == CKR_TOKEN_NOT_PRESENT ||
         rv == CKR_DEVICE_ERROR || rv == CKR_FUNCTION_FAILED;
}

Status CkrToStatus(CK_RV rv, std::string_view operation) {
  if (rv == CKR_OK) return Status::Ok();
  const std::string what = std::string(operation) + " returned " + CkrName(rv);
  switch (rv) {
    case CKR_TOKEN_NOT_PRESENT:
    case CKR_DEVICE_REMOVED:
    case CKR_TOKEN_NOT_RECOGNIZED:
    case CKR_SESSION_CLOSED:
    case CKR_SESSION_HANDLE_INVALID:
    case CKR_SLOT_ID_INVALID:
    case CKR_DEVICE_ERROR:
      return UnavailableError(
          "the card is absent or was removed (" + what + "); insert the card and try again",
          kReasonCardAbsent);
    case CKR_PIN_INCORRECT:
      return PermissionDeniedError("the card rejected the PIN (" + what +
                                       "); it was not retried, check it before trying again: "
                                       "cards lock after a few wrong PINs",
                                   kReasonPinIncorrect);
    case CKR_PIN_INVALID:
    case CKR_PIN_LEN_RANGE:
      return PermissionDeniedError(
          "the card rejected the PIN's length or characters (" + what + ")", kReasonPinIncorrect);
    case CKR_PIN_LOCKED:
    case CKR_PIN_EXPIRED:
      return PermissionDeniedError("the card's PIN is locked or expired (" + what +
                                       "); unblock it with the card's PUK or admin tool",
                                   kReasonPinLocked);
    case CKR_USER_PIN_NOT_INITIALIZED:
      return FailedPreconditionError(
          "the card has no user PIN set (" + what + "); initialize it with the card's admin tool",
          "pin_not_initialized");
    case CKR_USER_NOT_LOGGED_IN:
      return PermissionDeniedError("the card needs a PIN login first (" + what + ")",
                                   "not_logged_in");
    case CKR_MECHANISM_INVALID:
    case CKR_MECHANISM_PARAM_INVALID:
    case CKR_FUNCTION_NOT_SUPPORTED:
    case CKR_KEY_FUNCTION_NOT_PERMITTED:
    case CKR_KEY_TYPE_INCONSISTENT:
      return UnsupportedError("the card does not offer this operation (" + what + ")",
                              kReasonMechanismUnsupported);
    case CKR_ENCRYPTED_DATA_INVALID:
    case CKR_ENCRYPTED_DATA_LEN_RANGE:
    case CKR_DATA_INVALID:
    case CKR_DATA_LEN_RANGE:
      return CorruptError("the card could not unwrap the stanza (" + what + ")",
                          "stanza_unwrap_failed");
    case CKR_KEY_HANDLE_INVALID:
    case CKR_OBJECT_HANDLE_INVALID:
      return FailedPreconditionError("the key is no longer on the card (" + what + ")",
                                     kReasonNoKeyOnCard);
    case CKR_FUNCTION_CANCELED:
    case CKR_CANCEL:
      return CancelledError("the operation was cancelled on the card reader (" + what + ")",
                            "pin_cancelled");
    case CKR_HOST_MEMORY:
    case CKR_DEVICE_MEMORY:
      return ResourceExhaustedError("the card or its module ran out of memory (" + what + ")");
    case CKR_TOKEN_WRITE_PROTECTED:
    case CKR_SESSION_READ_ONLY:
      return PermissionDeniedError("the card is write-protected (" + what + ")", "card_read_only");
    default:
      return InternalError("unexpected PKCS#11 failure: " + what, "pkcs11_error");
  }
}

}  // namespace cardvault
