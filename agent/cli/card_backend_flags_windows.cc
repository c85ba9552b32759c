// The card backend's flags on Windows (agent/cli/card_backend_flags.h): the CryptoAPI
// provider. The key container is chosen like a card and key elsewhere: --token or
// --key-label name it (docs/windows.md).
#include "agent/cli/card_backend_flags.h"

namespace cardvault {

void AddCardBackendFlags(CLI::App& command, CardBackendOptions& options,
                         const std::string& help_prefix) {
  command.add_option(
      "--provider", options.provider,
      help_prefix + "CryptoAPI provider (default: Microsoft Base Smart Card Crypto Provider)");
}

}  // namespace cardvault
