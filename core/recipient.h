// Recipient: wraps a file key so that one holder of a private key can recover it.
#ifndef CARDVAULT_CORE_RECIPIENT_H_
#define CARDVAULT_CORE_RECIPIENT_H_

#include <vector>

#include "core/secret_data.h"
#include "core/stanza.h"
#include "core/status_or.h"

namespace cardvault {

// Security property: Wrap uses only public information. It needs no PIN, no card and no
// private key, and anyone may wrap to a recipient; only the matching Identity unwraps.
//
// Contract: Wrap MUST return at least one stanza, MUST use fresh randomness for every call
// (two wraps of one key differ), and MUST NOT retain `file_key` after returning.
class Recipient {
 public:
  virtual ~Recipient() = default;
  virtual StatusOr<std::vector<Stanza>> Wrap(const SecretData& file_key) = 0;
};

}  // namespace cardvault

#endif  // CARDVAULT_CORE_RECIPIENT_H_
