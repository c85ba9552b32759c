// cardvault: the command-line entry point.
#include <CLI/CLI.hpp>
#include <iostream>
#include <span>

#include "agent/cli/card_commands.h"
#include "agent/cli/cli_errors.h"
#include "agent/cli/doctor_commands.h"
#include "agent/cli/file_commands.h"
#include "agent/cli/recipients_commands.h"
#include "agent/cli/restore_commands.h"
#include "agent/cli/sync_commands.h"

int main(int argc, char** argv) {
  const std::span<const char* const> args(argv + 1, argc > 0 ? argc - 1 : 0);
  if (cardvault::Status pin = cardvault::RefusePinArguments(args); !pin.ok()) {
    cardvault::ReportError(pin);
    return 2;
  }
  CLI::App app{
      "cardvault: keeps a folder of secrets encrypted, with keys that only a smartcard can "
      "unwrap.\nEach file is encrypted with a fresh AES-256 key (docs/format.md)."};
  app.require_subcommand(1);
  app.footer("Run 'cardvault COMMAND --help' for a command's options and examples.");
  // Parse errors name options but never echo a value: it may be a secret typed in the
  // wrong place.
  app.failure_message([args](const CLI::App* a, const CLI::Error& e) {
    return cardvault::RedactArgumentValues(CLI::FailureMessage::simple(a, e), args);
  });
  int exit_code = 1;
  std::string config_flag;
  app.add_option("--config", config_flag,
                 "Agent config file (default: $CARDVAULT_CONFIG, else "
                 "$XDG_CONFIG_HOME/cardvault/config.json)");
  cardvault::AddFileCommands(app, exit_code);
  cardvault::AddSyncCommands(app, config_flag, exit_code);
  cardvault::AddCardCommands(app, exit_code);
  cardvault::AddRecipientsCommands(app, config_flag, exit_code);
  cardvault::AddRestoreCommands(app, config_flag, exit_code);
  cardvault::AddDoctorCommand(app, config_flag, exit_code);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  return exit_code;
}
