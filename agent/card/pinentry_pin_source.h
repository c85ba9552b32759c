// PinentryPinSource: asks the user for a card PIN through a pinentry program (Assuan).
#ifndef CARDVAULT_AGENT_CARD_PINENTRY_PIN_SOURCE_H_
#define CARDVAULT_AGENT_CARD_PINENTRY_PIN_SOURCE_H_

#include <string>

#include "core/card/pin_source.h"

namespace cardvault {

// Runs one pinentry process per GetPin and speaks Assuan with it over a socket pair on its
// stdin/stdout: waits for the greeting, sends OPTION ttyname/ttytype (when our stdin is a
// terminal), SETTITLE, SETDESC (card label and serial, plus the count-low / final-try
// warnings of the PinRequest), SETPROMPT and GETPIN, then BYE.
//
// Contract:
// - The PIN is percent-decoded into SecretData; every buffer that held it is wiped.
// - The user cancelling is kCancelled "pin_cancelled"; no pinentry installed is kNotFound
//   "pinentry_missing" (the message says to install pinentry-curses or use --pin-file);
//   any other failure of the program is kUnavailable "pinentry_failed".
// - Never retries: one GetPin, one prompt.
class PinentryPinSource : public PinSource {
 public:
  // `program` is run through PATH if it has no '/'. Empty: $PINENTRY_PROGRAM if set, else
  // "pinentry".
  explicit PinentryPinSource(std::string program = {});

  StatusOr<SecretData> GetPin(const PinRequest& request) override;

  const std::string& program() const { return program_; }

  // The SETDESC text for `request` (before Assuan escaping), for tests and logs (no PIN).
  static std::string Description(const PinRequest& request);

 private:
  std::string program_;
};

}  // namespace cardvault

#endif  // CARDVAULT_AGENT_CARD_PINENTRY_PIN_SOURCE_H_
