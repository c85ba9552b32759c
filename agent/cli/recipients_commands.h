// `cardvault recipients list|add|remove`: the extra recipients in the agent config.
#ifndef CARDVAULT_AGENT_CLI_RECIPIENTS_COMMANDS_H_
#define CARDVAULT_AGENT_CLI_RECIPIENTS_COMMANDS_H_

#include <CLI/CLI.hpp>

namespace cardvault {

// Adds `recipients` with its subcommands to `app`. Each sets `exit_code` when it runs.
// Edits only the "recipients" array of the config (other keys are kept as they are); every
// string is validated with ParseRecipient; the last recipient is never removed; the file
// is replaced atomically (mode 0600) and only if the result is a valid AgentConfig.
void AddRecipientsCommands(CLI::App& app, const std::string& global_config, int& exit_code);

}  // namespace cardvault

#endif  // CARDVAULT_AGENT_CLI_RECIPIENTS_COMMANDS_H_
