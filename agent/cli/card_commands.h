// The card subcommands of the cardvault CLI: `card list` and `card init`.
#ifndef CARDVAULT_AGENT_CLI_CARD_COMMANDS_H_
#define CARDVAULT_AGENT_CLI_CARD_COMMANDS_H_

#include <CLI/CLI.hpp>
#include <memory>
#include <string>

#include "core/card/pin_source.h"

namespace cardvault {

// Adds `card` with its subcommands to `app`. Each sets `exit_code` when it runs.
void AddCardCommands(CLI::App& app, int& exit_code);

// Where a card PIN comes from, in this order: `pin_file` (a --pin-file flag), the file
// named by $CARDVAULT_PIN_FILE, else a pinentry prompt ($PINENTRY_PROGRAM or `pinentry`).
// Never argv. The source reads nothing until a login needs it.
std::shared_ptr<PinSource> ChoosePinSource(const std::string& pin_file);

}  // namespace cardvault

#endif  // CARDVAULT_AGENT_CLI_CARD_COMMANDS_H_
