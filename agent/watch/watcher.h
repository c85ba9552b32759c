// Watcher: reports changes under the watched folder. One interface over the platform's
// backend (InotifyWatcher on Linux, WindowsWatcher on Windows); NewPlatformWatcher makes
// the one the build has.
#ifndef CARDVAULT_AGENT_WATCH_WATCHER_H_
#define CARDVAULT_AGENT_WATCH_WATCHER_H_

#include <memory>
#include <string>
#include <vector>

#include "agent/watch/ignore_rules.h"
#include "core/status_or.h"

namespace cardvault {

struct WatchEvent {
  enum class Kind {
    kModified,  // created or written: the content may still be changing
    kClosed,    // closed after writing
    kAppeared,  // moved in, attributes changed, or found inside a new directory (files and
                // directories alike)
    kRemoved,   // deleted or moved out; for a directory, everything under it
    kRescan,    // events were lost (queue overflow): the caller MUST rescan the whole tree
  };
  Kind kind;
  std::string path;  // relative to the root, '/'-separated; empty for kRescan
  bool is_directory = false;
};

// Contract: a backend MUST report every change under the root that happens after New()
// returned, or a kRescan event. It watches directories created later, including their
// content created before the watch was added (reported as kAppeared). Ignored names are
// not reported. Events for one path arrive in order.
class Watcher {
 public:
  virtual ~Watcher() = default;
  // Waits up to `timeout_ms` (-1: forever) and returns the events that arrived, possibly
  // none. Not thread-safe, except with Wake().
  virtual StatusOr<std::vector<WatchEvent>> Poll(int timeout_ms) = 0;
  // Makes a waiting Poll return at once. Thread-safe and async-signal-safe.
  virtual void Wake() = 0;
};

// The build's watcher on `root` (the backend is picked by CMake: inotify_watcher.cc or
// windows_watcher.cc defines this), with its default options.
StatusOr<std::unique_ptr<Watcher>> NewPlatformWatcher(const std::string& root, IgnoreRules rules);

}  // namespace cardvault

#endif  // CARDVAULT_AGENT_WATCH_WATCHER_H_
