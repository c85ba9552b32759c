// AuthLimiter implementation: fixed-window failure counting with a timed block.
#include "api/auth_limiter.h"

namespace cardvault {

int64_t AuthLimiter::Blocked(const std::string& address, int64_t now_seconds) {
  std::lock_guard lock(mu_);
  auto it = entries_.find(address);
  if (it == entries_.end() || it->second.blocked_until <= now_seconds) return 0;
  return it->second.blocked_until - now_seconds;
}

void AuthLimiter::RecordFailure(const std::string& address, int64_t now_seconds) {
  std::lock_guard lock(mu_);
  if (entries_.size() >= kMaxEntries) {
    for (auto it = entries_.begin(); it != entries_.end();) {
      bool stale = it->second.blocked_until <= now_seconds &&
                   it->second.window_start + window_ <= now_seconds;
      it = stale ? entries_.erase(it) : std::next(it);
    }
  }
  Entry& e = entries_[address];
  if (e.window_start + window_ <= now_seconds) {
    e.window_start = now_seconds;
    e.failures = 0;
  }
  if (++e.failures >= max_failures_) {
    e.blocked_until = now_seconds + backoff_;
    e.failures = 0;
  }
}

void AuthLimiter::RecordSuccess(const std::string& address) {
  std::lock_guard lock(mu_);
  entries_.erase(address);
}

}  // namespace cardvault
