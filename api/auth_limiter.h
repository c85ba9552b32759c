// AuthLimiter: the in-memory AuthBackoff of one server instance (429 for clients that keep
// presenting bad tokens).
#ifndef CARDVAULT_API_AUTH_LIMITER_H_
#define CARDVAULT_API_AUTH_LIMITER_H_

#include <cstdint>
#include <deque>
#include <mutex>
#include <string>
#include <unordered_map>

#include "storage/auth_backoff.h"

namespace cardvault {

// AuthBackoff's contract in memory: counts only what this instance sees (a shared
// PostgreSQL index brings PgAuthBackoff instead). Memory is bounded: at most `max_failures`
// times per address, and stale entries are dropped when the table grows. Never fails.
class AuthLimiter final : public AuthBackoff {
 public:
  AuthLimiter(int max_failures, int window_seconds, int backoff_seconds)
      : max_failures_(max_failures), window_(window_seconds), backoff_(backoff_seconds) {}

  StatusOr<int64_t> Blocked(std::string_view address, int64_t now_seconds) override;
  Status RecordFailure(std::string_view address, int64_t now_seconds) override;

 private:
  struct Entry {
    std::deque<int64_t> failures;  // times of the failures within the window, oldest first
    int64_t blocked_until = 0;
  };
  static constexpr size_t kMaxEntries = 10000;

  int max_failures_;
  int64_t window_;
  int64_t backoff_;
  std::mutex mu_;
  std::unordered_map<std::string, Entry> entries_;
};

}  // namespace cardvault

#endif  // CARDVAULT_API_AUTH_LIMITER_H_
