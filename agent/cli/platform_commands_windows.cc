// Windows's own commands (agent/cli/platform_commands.h). None yet: the agent on Windows
// (watching, syncing: sync_commands.cc) is issue 19, and the card commands come with the
// CryptoAPI backend (core/capi) through agent/card/card_backends.h.
#include "agent/cli/platform_commands.h"

namespace cardvault {

void AddPlatformCommands(CLI::App&, const std::string&, int&) {}

}  // namespace cardvault
