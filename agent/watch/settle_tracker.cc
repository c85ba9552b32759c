// SettleTracker implementation.
#include "agent/watch/settle_tracker.h"

namespace cardvault {

void SettleTracker::OnEvent(const WatchEvent& event, int64_t now_ns) {
  switch (event.kind) {
    case WatchEvent::Kind::kModified: {
      Entry& e = entries_[event.path];
      e.last_event_ns = now_ns;
      e.writing = true;
      break;
    }
    case WatchEvent::Kind::kClosed: {
      Entry& e = entries_[event.path];
      e.last_event_ns = now_ns;
      e.writing = false;
      break;
    }
    case WatchEvent::Kind::kAppeared:
      entries_[event.path].last_event_ns = now_ns;
      break;
    case WatchEvent::Kind::kRemoved:
      if (event.is_directory) {
        const std::string prefix = event.path + "/";
        for (auto it = entries_.lower_bound(prefix);
             it != entries_.end() && it->first.compare(0, prefix.size(), prefix) == 0;) {
          it = entries_.erase(it);
        }
      }
      entries_.erase(event.path);
      break;
    case WatchEvent::Kind::kRescan:
      break;
  }
}

void SettleTracker::AddCandidate(const std::string& path, int64_t now_ns) {
  entries_[path].last_event_ns = now_ns;
}

std::vector<std::string> SettleTracker::TakeSettled(int64_t now_ns) {
  std::vector<std::string> out;
  for (auto it = entries_.begin(); it != entries_.end();) {
    Entry& e = it->second;
    if (e.writing || now_ns - e.last_event_ns < delay_ns_) {
      ++it;
      continue;
    }
    auto info = env_->Stat(root_ + "/" + it->first);
    if (!info.ok() || !(info->is_regular || info->is_directory)) {
      it = entries_.erase(it);
      continue;
    }
    if (info->is_regular && now_ns - info->mtime_ns < delay_ns_) {
      // Written during the delay without an event we saw (or a clock step): wait again.
      e.last_event_ns = now_ns;
      ++it;
      continue;
    }
    out.push_back(it->first);
    it = entries_.erase(it);
  }
  return out;
}

std::optional<int64_t> SettleTracker::NextDeadline() const {
  std::optional<int64_t> next;
  for (const auto& [path, e] : entries_) {
    if (e.writing) continue;
    int64_t t = e.last_event_ns + delay_ns_;
    if (!next || t < *next) next = t;
  }
  return next;
}

}  // namespace cardvault
