// cardvault: the command-line entry point.
#include <CLI/CLI.hpp>
#include <iostream>
#include <span>
#include <string>
#include <vector>

#include "agent/cli/card_commands.h"
#include "agent/cli/cli_errors.h"
#include "agent/cli/file_commands.h"
#include "agent/cli/platform_commands.h"
#include "agent/cli/recipients_commands.h"
#include "agent/cli/restore_commands.h"
#include "agent/sync/config.h"
#include "core/platform.h"

int main(int argc, char** argv) {
  const std::vector<std::string> utf8 = cardvault::Utf8Arguments(argc, argv);
  std::vector<const char*> utf8_argv;
  for (const std::string& a : utf8) utf8_argv.push_back(a.c_str());
  const std::span<const char* const> args(utf8_argv.data() + (utf8_argv.empty() ? 0 : 1),
                                          utf8_argv.empty() ? 0 : utf8_argv.size() - 1);
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
                 "Agent config file (default: $CARDVAULT_CONFIG, else " +
                     cardvault::DefaultConfigPathHelp() + ")");
  cardvault::AddFileCommands(app, exit_code);
  cardvault::AddPlatformCommands(app, config_flag, exit_code);
  cardvault::AddCardCommands(app, exit_code);
  cardvault::AddRecipientsCommands(app, config_flag, exit_code);
  cardvault::AddRestoreCommands(app, config_flag, exit_code);
  try {
    app.parse(static_cast<int>(utf8_argv.size()), utf8_argv.data());
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  return exit_code;
}
