// The single-file commands of the cardvault CLI: keygen, encrypt, decrypt, inspect.
#ifndef CARDVAULT_AGENT_CLI_FILE_COMMANDS_H_
#define CARDVAULT_AGENT_CLI_FILE_COMMANDS_H_

#include <CLI/CLI.hpp>

namespace cardvault {

// Adds the subcommands to `app`. Each sets `exit_code` when it runs.
void AddFileCommands(CLI::App& app, int& exit_code);

}  // namespace cardvault

#endif  // CARDVAULT_AGENT_CLI_FILE_COMMANDS_H_
