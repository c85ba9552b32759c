// AuthLimiter implementation: sliding-window failure counting with a timed block.
#include "api/auth_limiter.h"

#include <algorithm>

namespace cardvault {

StatusOr<int64_t> AuthLimiter::Blocked(std::string_view address, int64_t now_seconds) {
  std::lock_guard lock(mu_);
  auto it = entries_.find(std::string(address));
  if (it == entries_.end() || it->second.blocked_until <= now_seconds) return int64_t{0};
  return it->second.blocked_until - now_seconds;
}

Status AuthLimiter::RecordFailure(std::string_view address, int64_t now_seconds) {
  std::lock_guard lock(mu_);
  if (entries_.size() >= kMaxEntries) {
    for (auto it = entries_.begin(); it != entries_.end();) {
      const auto& f = it->second.failures;
      bool stale = it->second.blocked_until <= now_seconds &&
                   (f.empty() || f.back() + window_ <= now_seconds);
      it = stale ? entries_.erase(it) : std::next(it);
    }
  }
  Entry& e = entries_[std::string(address)];
  while (!e.failures.empty() && e.failures.front() + window_ <= now_seconds) {
    e.failures.pop_front();
  }
  e.failures.push_back(now_seconds);
  if (e.failures.size() >= static_cast<size_t>(std::max(max_failures_, 1))) {
    e.blocked_until = now_seconds + backoff_;
    e.failures.clear();
  }
  return Status::Ok();
}

}  // namespace cardvault
