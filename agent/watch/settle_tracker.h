// SettleTracker: decides when a changed file has settled (closed after writing and
// unchanged for the settle delay), so a half-written file is never encrypted.
#ifndef CARDVAULT_AGENT_WATCH_SETTLE_TRACKER_H_
#define CARDVAULT_AGENT_WATCH_SETTLE_TRACKER_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "agent/watch/watcher.h"
#include "core/env.h"

namespace cardvault {

// A file is settled when (1) no event arrived for it during the delay, (2) it is not open
// for writing as far as the events tell (a kModified not yet followed by kClosed), and
// (3) its mtime is at least the delay old when checked. A file still changing is checked
// again one delay later. A directory settles on (1) alone: its mtime moves with its
// entries, and what is recorded of it (its mode) is not written piecemeal. Not thread-safe.
class SettleTracker {
 public:
  SettleTracker(Env* env, std::string root, int64_t delay_ns)
      : env_(env), root_(std::move(root)), delay_ns_(delay_ns) {}

  // Feeds one watcher event observed at `now_ns` (kRescan is the caller's business).
  void OnEvent(const WatchEvent& event, int64_t now_ns);
  // Marks a path found by a scan as a candidate.
  void AddCandidate(const std::string& path, int64_t now_ns);

  // Returns the paths that settled by `now_ns` (regular files and directories; a path that
  // vanished or is neither is dropped). Each is returned once per settling.
  std::vector<std::string> TakeSettled(int64_t now_ns);

  // When the next candidate may settle, for the watcher's poll timeout; nullopt if none.
  std::optional<int64_t> NextDeadline() const;
  size_t pending() const { return entries_.size(); }

 private:
  struct Entry {
    int64_t last_event_ns = 0;
    bool writing = false;
  };
  Env* env_;
  std::string root_;
  int64_t delay_ns_;
  std::map<std::string, Entry> entries_;
};

}  // namespace cardvault

#endif  // CARDVAULT_AGENT_WATCH_SETTLE_TRACKER_H_
