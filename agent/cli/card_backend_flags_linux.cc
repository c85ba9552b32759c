// The card backend's flags on Linux (agent/cli/card_backend_flags.h): the PKCS#11 module.
#include "agent/cli/card_backend_flags.h"
#include "core/card/card_reasons.h"

namespace cardvault {

void AddCardBackendFlags(CLI::App& command, CardBackendOptions& options,
                         const std::string& help_prefix) {
  command.add_option("--module", options.module,
                     help_prefix + "PKCS#11 module (default: p11-kit's proxy)");
}

std::string CardBackendRemedy(std::string_view reason) {
  if (reason == kReasonCardAbsent) {
    return "insert the card, then check that `cardvault card list` shows it; use --module "
           "for its PKCS#11 driver and --token to pick it by label.";
  }
  if (reason == kReasonModuleMissing) {
    return "install the card's PKCS#11 module (Debian: opensc-pkcs11 for most cards; "
           "p11-kit-modules for the default proxy) or pass --module PATH.";
  }
  if (reason == kReasonPinLocked) {
    return "the card's PIN is locked: unblock it with the PUK or security officer PIN (e.g. "
           "`pkcs11-tool --login --login-type so --init-pin`, or the card vendor's tool), then "
           "run again.";
  }
  return {};
}

}  // namespace cardvault
