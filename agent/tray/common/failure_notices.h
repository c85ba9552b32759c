// FailureNotices: the tray's rate limit for "a file could not be protected" notices, shared
// by the Qt and the Win32 tray: at most one notice per gap, the failures in between counted
// into the next one ("3 files failed, first ...").
#ifndef CARDVAULT_AGENT_TRAY_COMMON_FAILURE_NOTICES_H_
#define CARDVAULT_AGENT_TRAY_COMMON_FAILURE_NOTICES_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "agent/control/agent_link.h"

namespace cardvault {

struct FailureNotice {
  std::string title;
  std::string message;  // the first failure's "path: detail", with the count when several
};

// Pure logic: the caller passes the time (any monotonic clock in milliseconds) and shows the
// notices. The caller's loop: Add() the events, then Take(now); when that gives nothing,
// NextDueIn(now) says when to call Take() again (a one-shot timer). Not thread-safe.
class FailureNotices {
 public:
  explicit FailureNotices(int64_t gap_ms) : gap_ms_(gap_ms) {}

  // Counts the "file_failed" events of `events`; other events MUST change nothing.
  void Add(const std::vector<AgentEvent>& events);
  // The notice due at `now_ms`: set when failures wait and the previous notice is at least
  // the gap old (or there was none); the count restarts and the gap starts at `now_ms`.
  std::optional<FailureNotice> Take(int64_t now_ms);
  // Milliseconds after `now_ms` when Take() will give a notice; nullopt when none waits.
  std::optional<int64_t> NextDueIn(int64_t now_ms) const;

  int unreported() const { return unreported_; }

 private:
  const int64_t gap_ms_;
  int unreported_ = 0;
  std::string first_;  // "path: detail" of the first failure not reported yet
  std::optional<int64_t> last_notice_ms_;
};

}  // namespace cardvault

#endif  // CARDVAULT_AGENT_TRAY_COMMON_FAILURE_NOTICES_H_
