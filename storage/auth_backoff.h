// AuthBackoff: back-off for client addresses that keep presenting bad tokens (answered 429).
#ifndef CARDVAULT_STORAGE_AUTH_BACKOFF_H_
#define CARDVAULT_STORAGE_AUTH_BACKOFF_H_

#include <cstdint>
#include <string_view>

#include "core/status.h"
#include "core/status_or.h"

namespace cardvault {

struct AuthBackoffPolicy {
  int max_failures = 10;         // failures of one address ...
  int64_t window_seconds = 60;   // ... within any window this long (a sliding window) ...
  int64_t backoff_seconds = 60;  // ... block it for this long
};

// Counts authentication failures per client address under an AuthBackoffPolicy. After
// max_failures failures within any window_seconds, the address is blocked for
// backoff_seconds (its failures counted so far are dropped). A successful authentication
// forgives nothing: failures leave the count only by growing older than the window.
// Implementations MUST be thread-safe and MUST keep their size bounded: what an address
// leaves behind is dropped once its failures are older than the window and its block is
// over. A shared implementation counts the failures seen by every instance that shares it.
class AuthBackoff {
 public:
  virtual ~AuthBackoff() = default;
  // Seconds `address` stays blocked after `now_seconds` (for Retry-After); 0 when allowed.
  virtual StatusOr<int64_t> Blocked(std::string_view address, int64_t now_seconds) = 0;
  virtual Status RecordFailure(std::string_view address, int64_t now_seconds) = 0;
};

}  // namespace cardvault

#endif  // CARDVAULT_STORAGE_AUTH_BACKOFF_H_
