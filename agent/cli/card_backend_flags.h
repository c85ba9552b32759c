// The command-line flags that choose the platform's card backend (agent/card/card_backends.h).
// One .cc per platform, chosen in agent/CMakeLists.txt, so the commands hold no #ifdef.
#ifndef CARDVAULT_AGENT_CLI_CARD_BACKEND_FLAGS_H_
#define CARDVAULT_AGENT_CLI_CARD_BACKEND_FLAGS_H_

#include <CLI/CLI.hpp>
#include <string>
#include <string_view>

#include "agent/card/card_backends.h"

namespace cardvault {

// Adds to `command` the flags that fill `options`: Linux `--module PATH` (the PKCS#11 module),
// Windows `--provider NAME` (the CryptoAPI provider). `help_prefix` starts each help text
// (e.g. "With --card: "). `options` MUST outlive the parse.
void AddCardBackendFlags(CLI::App& command, CardBackendOptions& options,
                         const std::string& help_prefix = "");

// What to do about a card error whose remedy depends on the platform's backend (the card
// absent, its driver missing, its PIN locked), naming this platform's flags and tools;
// empty for any other reason.
std::string CardBackendRemedy(std::string_view reason);

}  // namespace cardvault

#endif  // CARDVAULT_AGENT_CLI_CARD_BACKEND_FLAGS_H_
