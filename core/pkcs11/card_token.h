// CardToken: listing the tokens (cards) a module sees and choosing one by label or serial.
#ifndef CARDVAULT_CORE_PKCS11_CARD_TOKEN_H_
#define CARDVAULT_CORE_PKCS11_CARD_TOKEN_H_

#include <p11-kit/pkcs11.h>

#include <string>
#include <string_view>
#include <vector>

#include "core/pkcs11/pkcs11_module.h"
#include "core/status_or.h"

namespace cardvault {

// Which token to use. Empty fields match anything; with both empty, exactly one
// initialized token must be present.
struct TokenSelector {
  std::string label;
  std::string serial;
};

// A snapshot of one token (CK_TOKEN_INFO, padding trimmed). Slot ids are only valid while
// the card stays inserted: select by label or serial, never by a remembered slot id.
struct CardToken {
  CK_SLOT_ID slot = 0;
  std::string label;
  std::string serial;
  std::string manufacturer;
  std::string model;
  CK_FLAGS flags = 0;

  bool initialized() const { return (flags & CKF_TOKEN_INITIALIZED) != 0; }
  bool login_required() const { return (flags & CKF_LOGIN_REQUIRED) != 0; }
  // The reader has a PIN pad: log in with a NULL PIN.
  bool protected_authentication_path() const {
    return (flags & CKF_PROTECTED_AUTHENTICATION_PATH) != 0;
  }
  bool pin_count_low() const { return (flags & CKF_USER_PIN_COUNT_LOW) != 0; }
  bool pin_final_try() const { return (flags & CKF_USER_PIN_FINAL_TRY) != 0; }
  bool pin_locked() const { return (flags & CKF_USER_PIN_LOCKED) != 0; }

  // Why `operation` on this token failed with `rv`, one of IsCardFailure (pkcs11_status.h).
  // Re-reads the slot (C_GetTokenInfo only): kUnavailable "card_removed" if this token is no
  // longer there (no token, or one with another serial, or rv says so), else kUnavailable
  // "card_failed". Never kCorrupt: a card failure says nothing about the file.
  Status OperationFailure(const Pkcs11Module& module, CK_RV rv, std::string_view operation) const;
  // "card "LABEL" (serial S)", for messages.
  std::string Name() const;

  // Reads the token in `slot`.
  static StatusOr<CardToken> Read(const Pkcs11Module& module, CK_SLOT_ID slot);
  // Every readable token present, initialized or not (a token whose C_GetTokenInfo fails,
  // e.g. one being removed, is left out).
  static StatusOr<std::vector<CardToken>> List(const Pkcs11Module& module);
  // The one initialized token matching `selector`. kUnavailable "card_absent" if none is
  // present; kInvalidArgument "ambiguous_token" if several match.
  static StatusOr<CardToken> Find(const Pkcs11Module& module, const TokenSelector& selector);
};

}  // namespace cardvault

#endif  // CARDVAULT_CORE_PKCS11_CARD_TOKEN_H_
