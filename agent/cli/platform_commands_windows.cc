// Windows's own commands (agent/cli/platform_commands.h). None yet: the agent on Windows
// (watching, syncing: sync_commands.cc) is issue 19.
#include "agent/cli/platform_commands.h"

namespace cardvault {

void AddPlatformCommands(CLI::App&, const std::string&, int&) {}

}  // namespace cardvault
