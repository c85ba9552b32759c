// The card backend's flags on Windows (agent/cli/card_backend_flags.h): the CryptoAPI
// provider. The key container is chosen like a card and key elsewhere: --token or
// --key-label name it (docs/windows.md).
#include "agent/cli/card_backend_flags.h"
#include "core/card/card_reasons.h"

namespace cardvault {

void AddCardBackendFlags(CLI::App& command, CardBackendOptions& options,
                         const std::string& help_prefix) {
  command.add_option(
      "--provider", options.provider,
      help_prefix + "CryptoAPI provider (default: Microsoft Base Smart Card Crypto Provider)");
}

std::string CardBackendRemedy(std::string_view reason) {
  if (reason == kReasonCardAbsent) {
    return "insert the card, then check that `cardvault card list` shows it. The Smart Card "
           "service must be running (`sc query SCardSvr`); use --provider NAME for a card "
           "whose driver is not the Base Smart Card provider, and --token to pick a container.";
  }
  if (reason == kReasonModuleMissing) {
    return "the CryptoAPI provider is not installed: install the card's minidriver (Windows "
           "Update or the vendor's installer), or name an installed one with --provider NAME "
           "(`certutil -csplist` lists them).";
  }
  if (reason == kReasonPinLocked) {
    return "the card's PIN is locked: unblock it with the PUK or the administrator key in the "
           "card vendor's tool (or Windows' smart card unblock screen: Ctrl+Alt+Del, "
           "\"Change a password\"), then run again.";
  }
  return {};
}

}  // namespace cardvault
