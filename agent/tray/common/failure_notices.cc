// FailureNotices: counts failures and releases at most one notice per gap.
#include "agent/tray/common/failure_notices.h"

namespace cardvault {

void FailureNotices::Add(const std::vector<AgentEvent>& events) {
  for (const AgentEvent& e : events) {
    if (e.type != "file_failed") continue;
    if (unreported_ == 0) first_ = e.detail.empty() ? e.path : e.path + ": " + e.detail;
    ++unreported_;
  }
}

std::optional<int64_t> FailureNotices::NextDueIn(int64_t now_ms) const {
  if (unreported_ == 0) return std::nullopt;
  if (!last_notice_ms_) return 0;
  const int64_t since = now_ms - *last_notice_ms_;
  return since >= gap_ms_ ? 0 : gap_ms_ - since;
}

std::optional<FailureNotice> FailureNotices::Take(int64_t now_ms) {
  std::optional<int64_t> due = NextDueIn(now_ms);
  if (!due || *due > 0) return std::nullopt;
  FailureNotice notice;
  notice.title = "cardvault: a file could not be protected";
  notice.message =
      unreported_ == 1 ? first_ : std::to_string(unreported_) + " files failed, first " + first_;
  unreported_ = 0;
  first_.clear();
  last_notice_ms_ = now_ms;
  return notice;
}

}  // namespace cardvault
