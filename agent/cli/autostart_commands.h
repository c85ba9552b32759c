// install-autostart and remove-autostart (Windows): start `cardvault run` at logon through the
// user's Run key, HKCU\Software\Microsoft\Windows\CurrentVersion\Run, value "cardvault".
// The Run key rather than a Task Scheduler task: it needs no administrator rights and no COM
// (ITaskService), it is one registry value (written or deleted at once, so both commands are
// idempotent), the user sees and can switch it off in Task Manager's Startup tab, and it works
// under Wine, where it is tested (Wine's Task Scheduler is partial).
#ifndef CARDVAULT_AGENT_CLI_AUTOSTART_COMMANDS_H_
#define CARDVAULT_AGENT_CLI_AUTOSTART_COMMANDS_H_

#include <CLI/CLI.hpp>
#include <string>

namespace cardvault {

// Adds install-autostart and remove-autostart to `app`; `config_flag` is the global --config.
void AddAutostartCommands(CLI::App& app, const std::string& config_flag, int& exit_code);

}  // namespace cardvault

#endif  // CARDVAULT_AGENT_CLI_AUTOSTART_COMMANDS_H_
