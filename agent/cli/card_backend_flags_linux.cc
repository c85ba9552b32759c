// The card backend's flags on Linux (agent/cli/card_backend_flags.h): the PKCS#11 module.
#include "agent/cli/card_backend_flags.h"

namespace cardvault {

void AddCardBackendFlags(CLI::App& command, CardBackendOptions& options,
                         const std::string& help_prefix) {
  command.add_option("--module", options.module,
                     help_prefix + "PKCS#11 module (default: p11-kit's proxy)");
}

}  // namespace cardvault
