// AuthLimiter implementation: sliding-window failure counting with a timed block.
#include "api/auth_limiter.h"

#include <algorithm>

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
      const auto& f = it->second.failures;
      bool stale = it->second.blocked_until <= now_seconds &&
                   (f.empty() || f.back() + window_ <= now_seconds);
      it = stale ? entries_.erase(it) : std::next(it);
    }
  }
  Entry& e = entries_[address];
  while (!e.failures.empty() && e.failures.front() + window_ <= now_seconds) {
    e.failures.pop_front();
  }
  e.failures.push_back(now_seconds);
  if (e.failures.size() >= static_cast<size_t>(std::max(max_failures_, 1))) {
    e.blocked_until = now_seconds + backoff_;
    e.failures.clear();
  }
}

}  // namespace cardvault
