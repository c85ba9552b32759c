// ReportError: prints a Status for a CLI user, with what to do next for card and PIN errors.
#ifndef CARDVAULT_AGENT_CLI_CLI_ERRORS_H_
#define CARDVAULT_AGENT_CLI_CLI_ERRORS_H_

#include <span>
#include <string>

#include "core/status.h"

namespace cardvault {

// Writes "cardvault: error: MESSAGE [reason]" to stderr, then, for known reasons (wrong
// PIN, locked PIN, card absent, wrong card, module missing, ...), a line saying what to do.
// Never prints secrets (Status messages carry none). Returns the exit code, 1.
int ReportError(const Status& status);

// Refuses a PIN on the command line, in any spelling (--pin, --pin=1234, -pin, --PIN,
// --pin-code, --user-pin, ...): a command line is visible to every user of the machine (ps,
// /proc) and stays in shell history. kInvalidArgument "pin_on_command_line" naming the
// option and the safe ways (--pin-file, $CARDVAULT_PIN_FILE, the pinentry prompt); it
// never contains the value. `args` are argv without the program name.
Status RefusePinArguments(std::span<const char* const> args);

// `message` (e.g. a command-line parser's error) with every argument value of `args`
// (what is not an option name, and what follows '=' in --name=value) replaced by
// "<value>", so that a secret typed in the wrong place is never echoed back.
std::string RedactArgumentValues(std::string message, std::span<const char* const> args);

}  // namespace cardvault

#endif  // CARDVAULT_AGENT_CLI_CLI_ERRORS_H_
