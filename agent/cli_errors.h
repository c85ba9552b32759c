// ReportError: prints a Status for a CLI user, with what to do next for card and PIN errors.
#ifndef CARDVAULT_AGENT_CLI_ERRORS_H_
#define CARDVAULT_AGENT_CLI_ERRORS_H_

#include "core/status.h"

namespace cardvault {

// Writes "cardvault: error: MESSAGE [reason]" to stderr, then, for known reasons (wrong
// PIN, locked PIN, card absent, wrong card, module missing, ...), a line saying what to do.
// Never prints secrets (Status messages carry none). Returns the exit code, 1.
int ReportError(const Status& status);

}  // namespace cardvault

#endif  // CARDVAULT_AGENT_CLI_ERRORS_H_
