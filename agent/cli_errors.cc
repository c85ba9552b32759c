// ReportError: error lines and remedies for the cardvault CLI.
#include "agent/cli_errors.h"

#include <iostream>
#include <string>

namespace cardvault {
namespace {

// What the user should do about `reason`; empty if the message says enough.
std::string Remedy(const std::string& reason) {
  if (reason == "pin_incorrect") {
    return "the card rejected the PIN. cardvault never tries a PIN twice (every wrong PIN "
           "brings the card closer to locking): check the PIN (--pin-file, CARDVAULT_PIN_FILE "
           "or the prompt) and run again.";
  }
  if (reason == "login_failed") {
    return "the card answered the PIN with a general error: a wrong PIN on some cards, or the "
           "card was pulled or failed. cardvault never tries a PIN twice: check the PIN and that "
           "the card is firmly inserted (`cardvault card list`), then run again.";
  }
  if (reason == "card_removed") {
    return "the card was removed while in use; nothing is wrong with the files. Insert it, "
           "check that `cardvault card list` shows it, and run again.";
  }
  if (reason == "card_failed") {
    return "the card failed while in use; nothing is wrong with the files. Remove and "
           "reinsert it and run again; if it keeps failing, try another reader or the backup "
           "card.";
  }
  if (reason == "pin_locked") {
    return "the card's PIN is locked: unblock it with the PUK or security officer PIN (e.g. "
           "`pkcs11-tool --login --login-type so --init-pin`, or the card vendor's tool), then "
           "run again.";
  }
  if (reason == "card_absent") {
    return "insert the card, then check that `cardvault card list` shows it; use --module "
           "for its PKCS#11 driver and --token to pick it by label.";
  }
  if (reason == "wrong_card") {
    return "insert the card this file was encrypted to: `cardvault inspect FILE` shows the "
           "key ids it is for, `cardvault card list` those of the inserted cards.";
  }
  if (reason == "module_missing") {
    return "install the card's PKCS#11 module (Debian: opensc-pkcs11 for most cards; "
           "p11-kit-modules for the default proxy) or pass --module PATH.";
  }
  if (reason == "ambiguous_token" || reason == "ambiguous_key") {
    return "choose with --token LABEL (or --serial) and --key-label; `cardvault card list` "
           "shows them.";
  }
  if (reason == "pin_file_insecure") return "run: chmod 600 on the PIN file.";
  if (reason == "pin_cancelled") return "nothing was changed.";
  return {};
}

}  // namespace

int ReportError(const Status& status) {
  std::cerr << "cardvault: error: " << status.message();
  if (!status.reason().empty()) std::cerr << " [" << status.reason() << "]";
  std::cerr << "\n";
  std::string remedy = Remedy(status.reason());
  if (!remedy.empty()) std::cerr << "cardvault: " << remedy << "\n";
  return 1;
}

}  // namespace cardvault
