// The keys byte stores choose for committed bytes, and the names of quarantined copies:
// the same rules for every backend, checked before a key becomes a path or a URL.
#ifndef CARDVAULT_STORAGE_BYTE_KEY_H_
#define CARDVAULT_STORAGE_BYTE_KEY_H_

#include <string>
#include <string_view>

#include "core/env.h"
#include "core/status_or.h"

namespace cardvault {

// A new key: 32 random lowercase hex characters (what every release has chosen).
StatusOr<std::string> NewByteKey(Env& env);

// Whether `key` is one a byte store could have chosen: 3 to 64 characters of [0-9a-z], so
// it can never name anything outside the store's own place (no '/', '.', '%').
bool IsValidByteKey(std::string_view key);

// kInvalidArgument "bad_byte_key".
Status BadByteKey();

// Whether `name` is a QuarantineCopy name: [0-9a-z.-], not empty, not starting with '.'.
bool IsValidQuarantineName(std::string_view name);

}  // namespace cardvault

#endif  // CARDVAULT_STORAGE_BYTE_KEY_H_
