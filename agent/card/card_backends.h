// OpenCardBackend: the one place the agent and the CLI get a card backend from.
#ifndef CARDVAULT_AGENT_CARD_CARD_BACKENDS_H_
#define CARDVAULT_AGENT_CARD_CARD_BACKENDS_H_

#include <memory>
#include <string>

#include "core/card/card_backend.h"
#include "core/card/pin_source.h"
#include "core/status_or.h"

namespace cardvault {

// What the user said about reaching cards (command-line flags, the agent config). Each
// backend reads its own fields and ignores the others'.
struct CardBackendOptions {
  // PKCS#11 (Linux): `--module PATH`, the card driver; empty: p11-kit's proxy.
  std::string module;
  // CryptoAPI (Windows): `--provider NAME` and `--container NAME`; empty: the defaults.
  std::string provider;
  std::string container;
};

// The platform's card backend (PKCS#11 on Linux, agent/card/card_backends.cc; CryptoAPI on
// Windows), chosen by the build, never by callers. Loading the backend touches no card and
// asks for no PIN: kNotFound "module_missing" if its driver is not there.
// Nothing else under agent/ names a backend: callers use CardBackend and CardIdentity only.
StatusOr<std::unique_ptr<CardBackend>> OpenCardBackend(const CardBackendOptions& options);

// One sentence for `--help` on where cards are reached by default, e.g. "The default module
// is p11-kit's proxy (PATH), which reaches every registered card driver."
std::string DefaultCardBackendHelp();

// Where a card PIN comes from when no PIN file is named: Linux, a pinentry prompt
// (PinentryPinSource); Windows, null: the CryptoAPI provider shows its own PIN dialog.
std::shared_ptr<PinSource> InteractivePinSource();

}  // namespace cardvault

#endif  // CARDVAULT_AGENT_CARD_CARD_BACKENDS_H_
