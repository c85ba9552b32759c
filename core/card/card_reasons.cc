// IsLoginFailure: which card errors end every further login attempt.
#include "core/card/card_reasons.h"

namespace cardvault {

bool IsLoginFailure(const Status& status) {
  const std::string& r = status.reason();
  return r == kReasonPinIncorrect || r == kReasonPinLocked || r == kReasonLoginFailed ||
         r == kReasonPinEmpty || r == kReasonPinCancelled ||
         status.code() == StatusCode::kCancelled;
}

}  // namespace cardvault
