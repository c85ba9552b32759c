// Windows's own commands (agent/cli/platform_commands.h): the agent (init, run, sync, status,
// as on Linux) and its start at logon (install-autostart, remove-autostart).
#include "agent/cli/autostart_commands.h"
#include "agent/cli/platform_commands.h"
#include "agent/cli/sync_commands.h"

namespace cardvault {

void AddPlatformCommands(CLI::App& app, const std::string& config_flag, int& exit_code) {
  AddSyncCommands(app, config_flag, exit_code);
  AddAutostartCommands(app, config_flag, exit_code);
}

}  // namespace cardvault
