// AuthLimiter: back-off for clients that keep presenting bad tokens (answered with 429).
#ifndef CARDVAULT_API_AUTH_LIMITER_H_
#define CARDVAULT_API_AUTH_LIMITER_H_

#include <cstdint>
#include <deque>
#include <mutex>
#include <string>
#include <unordered_map>

namespace cardvault {

// Counts authentication failures per client address. After `max_failures` failures within
// any `window_seconds` (a sliding window), the address is blocked for `backoff_seconds`:
// Blocked() returns the seconds left (for Retry-After), 0 when allowed. A successful
// authentication forgives nothing: failures leave the count only by growing older than the
// window, so valid requests in between (a stolen token beside guessed ones) cannot reset
// it. Memory is bounded: at most `max_failures` times per address, and stale entries are
// dropped when the table grows. Thread-safe.
class AuthLimiter {
 public:
  AuthLimiter(int max_failures, int window_seconds, int backoff_seconds)
      : max_failures_(max_failures), window_(window_seconds), backoff_(backoff_seconds) {}

  int64_t Blocked(const std::string& address, int64_t now_seconds);
  void RecordFailure(const std::string& address, int64_t now_seconds);

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
