// CryptoAPI / smart card error codes mapped to the card reasons, one table.
#define WIN32_LEAN_AND_MEAN
#define NOMINMAX
#include <windows.h>
// clang-format off: wincrypt.h needs windows.h first.
#include <wincrypt.h>
// clang-format on

#include <cstdio>

#include "core/capi/capi_status.h"
#include "core/card/card_reasons.h"

namespace cardvault {
namespace {

struct ErrorRow {
  uint32_t error;
  const char* name;
  StatusCode code;
  const char* reason;
  // What the user should do; "%p" is replaced by the provider, "%c" by the container.
  const char* advice;
};

constexpr char kCorruptStanza[] = "stanza_unwrap_failed";

// One row per error a card provider reports; the message names the site before the advice.
const ErrorRow kErrorRows[] = {
    {static_cast<uint32_t>(NTE_SILENT_CONTEXT), "NTE_SILENT_CONTEXT",
     StatusCode::kFailedPrecondition, kReasonPinNeeded,
     "the provider needs to ask for the PIN but was told not to show a dialog: give the PIN "
     "with --pin-file, or run interactively so the provider can ask"},
    {static_cast<uint32_t>(NTE_BAD_KEYSET), "NTE_BAD_KEYSET", StatusCode::kUnavailable,
     kReasonCardAbsent,
     "no key container %c: insert the card that holds it, or create one with `cardvault card "
     "init`"},
    {static_cast<uint32_t>(SCARD_E_NO_KEY_CONTAINER), "SCARD_E_NO_KEY_CONTAINER",
     StatusCode::kUnavailable, kReasonCardAbsent,
     "no key container %c on the card: insert the card that holds it, or create one with "
     "`cardvault card init`"},
    {static_cast<uint32_t>(NTE_KEYSET_NOT_DEF), "NTE_KEYSET_NOT_DEF", StatusCode::kNotFound,
     kReasonModuleMissing,
     "the CryptoAPI provider \"%p\" is not installed: install the card's driver (minidriver) or "
     "name an installed provider with --provider"},
    {static_cast<uint32_t>(NTE_PROV_TYPE_NOT_DEF), "NTE_PROV_TYPE_NOT_DEF", StatusCode::kNotFound,
     kReasonModuleMissing,
     "no CryptoAPI provider of this type is installed: install the card's driver or name an "
     "installed provider with --provider"},
    {static_cast<uint32_t>(NTE_PROV_TYPE_NO_MATCH), "NTE_PROV_TYPE_NO_MATCH", StatusCode::kNotFound,
     kReasonModuleMissing,
     "the provider \"%p\" is installed with another provider type: name its type"},
    {static_cast<uint32_t>(NTE_PROV_DLL_NOT_FOUND), "NTE_PROV_DLL_NOT_FOUND", StatusCode::kNotFound,
     kReasonModuleMissing,
     "the DLL of the provider \"%p\" is missing: reinstall the card's driver"},
    {static_cast<uint32_t>(NTE_BAD_DATA), "NTE_BAD_DATA", StatusCode::kCorrupt, kCorruptStanza,
     "the card rejected the stanza's RSA-OAEP padding: the file is damaged, or was not "
     "encrypted to this key"},
    {static_cast<uint32_t>(NTE_NO_KEY), "NTE_NO_KEY", StatusCode::kFailedPrecondition,
     kReasonNoKeyOnCard,
     "the key container %c holds no key exchange (AT_KEYEXCHANGE) key: use another container "
     "(`cardvault card list`)"},
    {static_cast<uint32_t>(NTE_EXISTS), "NTE_EXISTS", StatusCode::kAlreadyExists, kReasonKeyExists,
     "the key container %c already exists: choose another label"},
    {static_cast<uint32_t>(NTE_BAD_ALGID), "NTE_BAD_ALGID", StatusCode::kUnsupported,
     kReasonMechanismUnsupported, "the provider \"%p\" does not offer this algorithm"},
    {static_cast<uint32_t>(NTE_NOT_SUPPORTED), "NTE_NOT_SUPPORTED", StatusCode::kUnsupported,
     kReasonMechanismUnsupported, "the provider \"%p\" does not support this operation"},
    {static_cast<uint32_t>(NTE_BAD_FLAGS), "NTE_BAD_FLAGS", StatusCode::kUnsupported,
     kReasonMechanismUnsupported,
     "the provider \"%p\" refused the flags (RSA-OAEP or the key size): it cannot do this"},
    {static_cast<uint32_t>(SCARD_E_NO_SMARTCARD), "SCARD_E_NO_SMARTCARD", StatusCode::kUnavailable,
     kReasonCardAbsent, "no smart card is inserted: insert the card"},
    {static_cast<uint32_t>(SCARD_E_NO_READERS_AVAILABLE), "SCARD_E_NO_READERS_AVAILABLE",
     StatusCode::kUnavailable, kReasonCardAbsent,
     "no smart card reader is connected: connect the reader and insert the card"},
    {static_cast<uint32_t>(SCARD_E_READER_UNAVAILABLE), "SCARD_E_READER_UNAVAILABLE",
     StatusCode::kUnavailable, kReasonCardAbsent,
     "the smart card reader is not available: reconnect it and insert the card"},
    {static_cast<uint32_t>(SCARD_W_REMOVED_CARD), "SCARD_W_REMOVED_CARD", StatusCode::kUnavailable,
     kReasonCardRemoved, "the card was removed while in use: insert it and run again"},
    {static_cast<uint32_t>(SCARD_W_RESET_CARD), "SCARD_W_RESET_CARD", StatusCode::kUnavailable,
     kReasonCardRemoved, "the card was reset by another program while in use: run again"},
    {static_cast<uint32_t>(SCARD_W_WRONG_CHV), "SCARD_W_WRONG_CHV", StatusCode::kPermissionDenied,
     kReasonPinIncorrect,
     "the card rejected the PIN (not retried; each wrong PIN brings the card closer to "
     "locking): run again with the right PIN"},
    {static_cast<uint32_t>(SCARD_E_INVALID_CHV), "SCARD_E_INVALID_CHV",
     StatusCode::kPermissionDenied, kReasonPinIncorrect,
     "the PIN is not valid for this card (not retried): run again with the right PIN"},
    {static_cast<uint32_t>(SCARD_W_CHV_BLOCKED), "SCARD_W_CHV_BLOCKED",
     StatusCode::kPermissionDenied, kReasonPinLocked,
     "the card's PIN is blocked: unblock it with the PUK (the card's management tool or your "
     "administrator)"},
    {static_cast<uint32_t>(SCARD_W_CANCELLED_BY_USER), "SCARD_W_CANCELLED_BY_USER",
     StatusCode::kCancelled, kReasonPinCancelled, "the PIN dialog was cancelled"},
    {static_cast<uint32_t>(SCARD_E_CANCELLED), "SCARD_E_CANCELLED", StatusCode::kCancelled,
     kReasonPinCancelled, "the card operation was cancelled"},
    {static_cast<uint32_t>(ERROR_CANCELLED), "ERROR_CANCELLED", StatusCode::kCancelled,
     kReasonPinCancelled, "the PIN dialog was cancelled"},
    {static_cast<uint32_t>(SCARD_E_NO_SERVICE), "SCARD_E_NO_SERVICE", StatusCode::kUnavailable,
     kReasonCardFailed,
     "the Smart Card service is not running: start it (services.msc, \"Smart Card\")"},
    {static_cast<uint32_t>(SCARD_E_SERVICE_STOPPED), "SCARD_E_SERVICE_STOPPED",
     StatusCode::kUnavailable, kReasonCardFailed,
     "the Smart Card service stopped: start it (services.msc, \"Smart Card\") and run again"},
    {static_cast<uint32_t>(SCARD_F_COMM_ERROR), "SCARD_F_COMM_ERROR", StatusCode::kUnavailable,
     kReasonCardFailed, "the reader lost contact with the card: reinsert it and run again"},
    {static_cast<uint32_t>(SCARD_E_COMM_DATA_LOST), "SCARD_E_COMM_DATA_LOST",
     StatusCode::kUnavailable, kReasonCardFailed,
     "the reader lost data from the card: reinsert it and run again"},
    {static_cast<uint32_t>(SCARD_W_UNPOWERED_CARD), "SCARD_W_UNPOWERED_CARD",
     StatusCode::kUnavailable, kReasonCardFailed,
     "the card is not powered: reinsert it and run again"},
    {static_cast<uint32_t>(SCARD_E_TIMEOUT), "SCARD_E_TIMEOUT", StatusCode::kUnavailable,
     kReasonCardFailed, "the card did not answer in time: reinsert it and run again"},
};

std::string Hex(uint32_t error) {
  char buf[16];
  std::snprintf(buf, sizeof(buf), "0x%08X", static_cast<unsigned>(error));
  return buf;
}

const ErrorRow* FindRow(uint32_t error) {
  for (const ErrorRow& row : kErrorRows) {
    if (row.error == error) return &row;
  }
  return nullptr;
}

std::string Expand(std::string_view advice, const CapiErrorSite& site) {
  std::string out;
  for (size_t i = 0; i < advice.size(); ++i) {
    if (advice[i] == '%' && i + 1 < advice.size() &&
        (advice[i + 1] == 'p' || advice[i + 1] == 'c')) {
      out += advice[i + 1] == 'p' ? std::string(site.provider)
                                  : "\"" + std::string(site.container) + "\"";
      ++i;
      continue;
    }
    out += advice[i];
  }
  return out;
}

}  // namespace

std::string CapiErrorName(uint32_t error) {
  const ErrorRow* row = FindRow(error);
  return row == nullptr ? Hex(error) : Hex(error) + " (" + row->name + ")";
}

Status CapiErrorToStatus(uint32_t error, const CapiErrorSite& site) {
  std::string where = std::string(site.operation);
  if (!site.container.empty()) where += " on key container \"" + std::string(site.container) + "\"";
  if (!site.provider.empty())
    where += " of CryptoAPI provider \"" + std::string(site.provider) + "\"";
  where += " failed with " + CapiErrorName(error);
  const ErrorRow* row = FindRow(error);
  if (row == nullptr) {
    return UnavailableError(where +
                                ": the card or its provider failed; reinsert the card and run "
                                "again, or check the provider with `cardvault card list`",
                            kReasonCardFailed);
  }
  return Status(row->code, where + ": " + Expand(row->advice, site), row->reason);
}

}  // namespace cardvault
