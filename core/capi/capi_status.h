// CapiErrorToStatus: CryptoAPI and smart card errors as Status with the card reasons of
// core/card/card_reasons.h. Windows only (core/capi/); free of <windows.h>.
#ifndef CARDVAULT_CORE_CAPI_CAPI_STATUS_H_
#define CARDVAULT_CORE_CAPI_CAPI_STATUS_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "core/status.h"

namespace cardvault {

// Where an error happened, for the message: the Crypt* call, the provider and the key
// container ("" where none was named).
struct CapiErrorSite {
  std::string_view operation;
  std::string_view provider;
  std::string_view container;
};

// Maps `error` (GetLastError() after a failed Crypt* call: an HRESULT such as NTE_BAD_KEYSET
// or SCARD_W_WRONG_CHV, or a Win32 code such as ERROR_CANCELLED) to a Status whose reason is
// one of core/card/card_reasons.h (stanza_unwrap_failed for NTE_BAD_DATA) and whose message
// names the site, the error (hex and name) and what to do. Contract:
// - a card that is absent, pulled or failing is kUnavailable, never kCorrupt; only NTE_BAD_DATA
//   (the card refused the stanza's padding) says the file is damaged (kCorrupt);
// - PIN errors (pin_incorrect, pin_locked, pin_cancelled) satisfy IsLoginFailure;
// - an unknown error is kUnavailable "card_failed" with its code.
Status CapiErrorToStatus(uint32_t error, const CapiErrorSite& site);

// "0x80090016 (NTE_BAD_KEYSET)"; the bare hex for codes without a known name.
std::string CapiErrorName(uint32_t error);

}  // namespace cardvault

#endif  // CARDVAULT_CORE_CAPI_CAPI_STATUS_H_
