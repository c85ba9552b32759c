// SoftHSM2 soft cards for the integration tests and the benchmarks: a token directory of its
// own (one "card slot") and a key created on the card by the real `cardvault card init`.
#ifndef CARDVAULT_TESTS_INTEGRATION_SOFT_CARD_H_
#define CARDVAULT_TESTS_INTEGRATION_SOFT_CARD_H_

#include <string>

#include "core/status_or.h"
#include "tests/integration/process_util.h"

namespace cardvault {

inline constexpr char kSoftHsm2Module[] = "/usr/lib/softhsm/libsofthsm2.so";

// Writes DIR/softhsm2.conf over the token directory DIR/tokens; returns the conf's path.
std::string WriteSoftHsmConf(const std::string& dir);

// Runs `CLI card init` on the token labeled `label` (already initialized) with `env` (which
// sets SOFTHSM2_CONF); returns the card key's cv-p11- recipient.
StatusOr<std::string> CreateCardKey(const std::string& cli, const std::string& label,
                                    const std::string& pin_file, const EnvVars& env = {});

}  // namespace cardvault

#endif  // CARDVAULT_TESTS_INTEGRATION_SOFT_CARD_H_
