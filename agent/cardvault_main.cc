// cardvault: the command-line entry point.
#include <CLI/CLI.hpp>
#include <iostream>

#include "agent/card_commands.h"
#include "agent/file_commands.h"
#include "agent/recipients_commands.h"
#include "agent/restore_commands.h"
#include "agent/sync_commands.h"

int main(int argc, char** argv) {
  CLI::App app{
      "cardvault: keeps a folder of secrets encrypted, with keys that only a smartcard can "
      "unwrap.\nEach file is encrypted with a fresh AES-256 key (docs/format.md)."};
  app.require_subcommand(1);
  app.footer("Run 'cardvault COMMAND --help' for a command's options and examples.");
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
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  return exit_code;
}
