// Linux's own commands (agent/cli/platform_commands.h): the agent and its `doctor`.
#include "agent/cli/doctor_commands.h"
#include "agent/cli/platform_commands.h"
#include "agent/cli/sync_commands.h"

namespace cardvault {

void AddPlatformCommands(CLI::App& app, const std::string& config_flag, int& exit_code) {
  AddSyncCommands(app, config_flag, exit_code);
  AddDoctorCommand(app, config_flag, exit_code);
}

}  // namespace cardvault
