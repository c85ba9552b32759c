// The agent commands of the CLI: init, run, sync, status.
#ifndef CARDVAULT_AGENT_CLI_SYNC_COMMANDS_H_
#define CARDVAULT_AGENT_CLI_SYNC_COMMANDS_H_

#include <CLI/CLI.hpp>

namespace cardvault {

// Adds the subcommands to `app`; `config_flag` is the global --config value.
void AddSyncCommands(CLI::App& app, const std::string& config_flag, int& exit_code);

}  // namespace cardvault

#endif  // CARDVAULT_AGENT_CLI_SYNC_COMMANDS_H_
