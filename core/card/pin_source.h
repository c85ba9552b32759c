// PinSource: where a card PIN comes from (a file, a file descriptor or a callback).
#ifndef CARDVAULT_CORE_CARD_PIN_SOURCE_H_
#define CARDVAULT_CORE_CARD_PIN_SOURCE_H_

#include <functional>
#include <memory>
#include <string>

#include "core/secret_data.h"
#include "core/status_or.h"

namespace cardvault {

// What the card says about the login being asked for, so a prompt can warn the user.
struct PinRequest {
  std::string token_label;
  std::string token_serial;
  bool count_low = false;  // CKF_USER_PIN_COUNT_LOW: a wrong PIN was entered before
  bool final_try = false;  // CKF_USER_PIN_FINAL_TRY: one more wrong PIN locks the card
};

// Supplies the user PIN for one login. Contract:
// - The PIN is returned in SecretData and MUST NOT be logged, cached in plain memory or
//   written anywhere; callers wipe it right after C_Login.
// - GetPin is called at most once per login; a rejected PIN is never asked again by the
//   same CardIdentity (no retry loops that could lock the card).
// - PINs never come from the command line (argv is visible to every user via /proc).
// - An empty PIN is an error (kInvalidArgument "pin_empty"), never sent to the card.
class PinSource {
 public:
  virtual ~PinSource() = default;
  virtual StatusOr<SecretData> GetPin(const PinRequest& request) = 0;

  // Reads the first line of `path` (trailing "\n" or "\r\n" removed). On POSIX the file MUST
  // NOT be accessible to group or others (kPermissionDenied "pin_file_insecure"); Windows keeps
  // access in ACLs, which this does not check.
  static std::unique_ptr<PinSource> FromFile(std::string path);
  // Reads `fd` up to the first newline or end of file. Does not close `fd`, which the
  // caller owns and which must outlive the source.
  static std::unique_ptr<PinSource> FromFd(int fd);
  // Delegates to `callback` (e.g. a pinentry prompt).
  static std::unique_ptr<PinSource> FromCallback(
      std::function<StatusOr<SecretData>(const PinRequest&)> callback);
};

}  // namespace cardvault

#endif  // CARDVAULT_CORE_CARD_PIN_SOURCE_H_
