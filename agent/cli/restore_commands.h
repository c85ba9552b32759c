// The restore subcommands of the CLI: restore, ls, versions (server plus card only), adopt.
#ifndef CARDVAULT_AGENT_CLI_RESTORE_COMMANDS_H_
#define CARDVAULT_AGENT_CLI_RESTORE_COMMANDS_H_

#include <CLI/CLI.hpp>
#include <string>

namespace cardvault {

// Adds the subcommands to `app`; `config_flag` is the global --config value (optional for
// these commands: on a fresh machine the server, fingerprint and token come from flags).
void AddRestoreCommands(CLI::App& app, const std::string& config_flag, int& exit_code);

}  // namespace cardvault

#endif  // CARDVAULT_AGENT_CLI_RESTORE_COMMANDS_H_
