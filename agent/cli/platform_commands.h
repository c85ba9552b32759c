// The commands that exist on one platform only, added between the file commands and the
// card, recipients and restore commands every platform has. One .cc per platform, chosen in
// agent/CMakeLists.txt: Linux (platform_commands_linux.cc) adds the agent (init, run, sync,
// status, ...) and `doctor`; Windows (platform_commands_windows.cc) adds the agent and
// install-autostart/remove-autostart.
#ifndef CARDVAULT_AGENT_CLI_PLATFORM_COMMANDS_H_
#define CARDVAULT_AGENT_CLI_PLATFORM_COMMANDS_H_

#include <CLI/CLI.hpp>
#include <string>

namespace cardvault {

// Adds this platform's own commands to `app`. Each sets `exit_code` when it runs.
void AddPlatformCommands(CLI::App& app, const std::string& config_flag, int& exit_code);

}  // namespace cardvault

#endif  // CARDVAULT_AGENT_CLI_PLATFORM_COMMANDS_H_
