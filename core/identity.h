// Identity: recovers a file key from the stanzas addressed to a private key it holds.
#ifndef CARDVAULT_CORE_IDENTITY_H_
#define CARDVAULT_CORE_IDENTITY_H_

#include <span>

#include "core/secret_data.h"
#include "core/stanza.h"
#include "core/status_or.h"

namespace cardvault {

// Security property: the file key is released only if a stanza authenticates under the
// private key this identity holds (the key may live on a card and never leave it).
//
// Contract:
// - Unwrap MUST ignore stanzas of other types or other key identifiers, and MUST return
//   NotFound with reason "no_matching_stanza" when no stanza is addressed to it, without
//   asking for a PIN or touching a card.
// - A stanza addressed to it that fails to unwrap is an error with code kCorrupt (reason
//   "stanza_unwrap_failed"); card and PIN failures keep their own codes. Unwrap MUST NOT
//   retry a failed PIN.
// - The returned key is the file key, 32 bytes.
class Identity {
 public:
  virtual ~Identity() = default;
  virtual StatusOr<SecretData> Unwrap(std::span<const Stanza> stanzas) = 0;
};

}  // namespace cardvault

#endif  // CARDVAULT_CORE_IDENTITY_H_
